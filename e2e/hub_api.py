"""The hub's REST API for tests and benchmarks: an admin's token, servers, files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from environment import Environment
from playwright.sync_api import BrowserContext
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from waits import wait_until

SERVER_STOP_WAIT_S = 180
STOP_REQUESTS_AT_ONCE = 10
INTERRUPTED_START = 500
# JupyterHub's largest page of a listing (its api_page_max_limit).
USERS_PAGE = 200
TOKEN_LIFETIME_S = 4 * 3600


def xsrf_headers(context: BrowserContext) -> dict[str, str]:
    """Cookie-authenticated hub API calls need the hub's XSRF token in a header."""
    token = next(
        (c["value"] for c in context.cookies() if c["name"] == "_xsrf" and "hub" in c["path"]),
        "",
    )
    return {"X-XSRFToken": token}


def signed_in_session(context: BrowserContext, url: str) -> requests.Session:
    """The browser context's signed-in session at the hub at `url`, for requests sent from this
    process: the cookies Chromium sends to the hub's /hub/ pages (as Playwright selects them by
    URL) in a Cookie header, and the XSRF token. Playwright's own request client resolves host
    names itself, past Chromium's resolver rules; this process routes and trusts the rehearsal's
    sites as Chromium does."""
    session = requests.Session()
    cookies = context.cookies(f"{url}/hub/")
    session.headers["Cookie"] = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
    session.headers.update(xsrf_headers(context))
    return session


class HubAdmin:
    """The hub's REST API with an admin's token."""

    def __init__(self, env: Environment, token: str) -> None:
        self.env = env
        self.token = token
        self.api = f"{env.hub_url}/hub/api"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        # configurable-http-proxy (Node) closes a keep-alive connection idle for 5 s
        # (https://nodejs.org/api/http.html#serverkeepalivetimeout); a request sent as it closes
        # one gets no answer (RemoteDisconnected). Idempotent requests go again on a new one.
        retry = Retry(total=2, connect=2, read=2, status=0)
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(max_retries=retry))

    @classmethod
    def from_signed_in_context(cls, context: BrowserContext, env: Environment) -> HubAdmin:
        """Make a token through the browser session of an admin signed in to the hub."""
        response = signed_in_session(context, env.hub_url).post(
            f"{env.hub_url}/hub/api/users/admin/tokens",
            json={"note": "e2e", "expires_in": TOKEN_LIFETIME_S},
            timeout=30,
        )
        if not response.ok:
            raise AssertionError(
                f"creating an admin token failed: {response.status_code} {response.text}"
            )
        return cls(env, response.json()["token"])

    def user(self, name: str) -> dict[str, Any] | None:
        response = self.session.get(f"{self.api}/users/{name}", timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def server(self, name: str) -> dict[str, Any] | None:
        """The hub's record of the user's default server; None when it has none."""
        user = self.user(name)
        return (user or {}).get("servers", {}).get("")

    def server_running(self, name: str) -> bool:
        return bool((self.server(name) or {}).get("ready"))

    def server_exists(self, name: str) -> bool:
        return self.server(name) is not None

    def service(self, name: str) -> dict[str, Any]:
        """The hub's model of a service, with its command (admins may read it)."""
        response = self.session.get(f"{self.api}/services/{name}", timeout=30)
        response.raise_for_status()
        return response.json()

    def ensure_user(self, name: str) -> None:
        if self.user(name) is None:
            self.session.post(f"{self.api}/users/{name}", timeout=30).raise_for_status()

    def start_server(self, name: str, options: dict[str, Any]) -> requests.Response:
        return self.session.post(f"{self.api}/users/{name}/server", json=options, timeout=60)

    def start_named_server(
        self, name: str, server_name: str, options: dict[str, Any]
    ) -> requests.Response:
        return self.session.post(
            f"{self.api}/users/{name}/servers/{server_name}", json=options, timeout=60
        )

    def remove_named_server(self, name: str, server_name: str) -> None:
        """Forget a stopped named server (JupyterHub keeps one a refused start created)."""
        response = self.session.delete(
            f"{self.api}/users/{name}/servers/{server_name}", json={"remove": True}, timeout=60
        )
        if response.status_code != 404:
            response.raise_for_status()

    def request_stop(self, name: str) -> None:
        """Ask the hub to stop the user's default server, if it has one; do not wait."""
        if self.server_exists(name):
            self.delete_server(name)

    def delete_server(self, name: str) -> bool:
        """`DELETE` the user's default server; a 400 (already stopping) is fine. False when the
        stop interrupted a start that had not ended a second later: JupyterHub then answers 500
        "pending spawn" (the interruption of jupyterhub/jupyterhub#4844), and the stop is to be
        asked again."""
        response = self.session.delete(f"{self.api}/users/{name}/server", timeout=60)
        if response.status_code == INTERRUPTED_START:
            return False
        if response.status_code not in (202, 204, 400):
            response.raise_for_status()
        return True

    def stop_server(self, name: str) -> None:
        """Stop the user's default server (if any) and wait until its pod is gone."""
        self.request_stop(name)
        wait_until(
            lambda: not self.server_exists(name) and not self.env.lab_pods(name),
            timeout_s=SERVER_STOP_WAIT_S,
            what=f"{name}'s server to stop",
        )

    def users_with_servers(self) -> set[str]:
        """The names of every user with a default or named server, running or pending: one
        listing (`GET /users?state=active`, page by page) however many users there are."""
        names: set[str] = set()
        while True:
            response = self.session.get(
                f"{self.api}/users",
                params={"state": "active", "offset": len(names), "limit": USERS_PAGE},
                timeout=30,
            )
            response.raise_for_status()
            page = [user["name"] for user in response.json()]
            names.update(page)
            if len(page) < USERS_PAGE:
                return names

    def stop_servers(self, names: Iterable[str]) -> None:
        """Stop many users' servers at once (a lecture's) and wait until their pods are gone:
        one hub request for each user with a server, a few at a time, then one user listing
        and one pod listing per poll for all."""
        names = set(names)
        # The pool's threads share a session of their own: requests does not promise that a
        # Session is thread-safe (https://github.com/psf/requests/issues/2766), and this one
        # goes on polling below.
        stopper = HubAdmin(self.env, self.token)
        to_ask = names & self.users_with_servers()

        def stopped() -> bool:
            nonlocal to_ask
            listed = names & self.users_with_servers()
            asked = sorted(to_ask & listed)
            with ThreadPoolExecutor(max_workers=STOP_REQUESTS_AT_ONCE) as pool:
                accepted = list(pool.map(stopper.delete_server, asked))
            to_ask = {name for name, ok in zip(asked, accepted, strict=True) if not ok}
            return not listed and not names & set(self.env.lab_pods_by_user())

        wait_until(stopped, timeout_s=SERVER_STOP_WAIT_S, what=f"{len(names)} servers to stop")

    def spawn_progress(self, name: str, timeout_s: float) -> Iterator[dict[str, Any]]:
        """The events of the user's default server's progress stream (what the spawn page
        shows), until it ends: the last is `ready` or `failed`. HTTPError 400 when the server
        is not starting. Its own connection, so that many users' streams can be followed from
        as many threads."""
        with requests.get(
            f"{self.api}/users/{name}/server/progress",
            headers={"Authorization": f"token {self.token}"},
            stream=True,
            timeout=(30, timeout_s),
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    yield json.loads(line.removeprefix("data:"))

    def unlink_identity(self, name: str, identity: dict[str, str]) -> bool:
        """Remove a linked sign-in of `name` as an admin does on /hub/linked-identities; False
        when it was not linked."""
        response = self.session.post(
            f"{self.env.hub_url}/hub/linked-identities",
            params={"user": name},
            data={"client_id": "", **identity},
            allow_redirects=False,
            timeout=30,
        )
        if response.status_code == 404:
            return False
        if response.status_code != 302:
            raise AssertionError(f"unlinking failed: {response.status_code} {response.text}")
        return True

    def contents_url(self, name: str, path: str) -> str:
        """The user's server's contents API (the admin role may access every server), on the
        user's origin: the process resolves it to the loopback (`loopback.py`)."""
        return self.env.user_url(name, f"api/contents/{path}")

    def write_file(self, name: str, path: str, text: str) -> None:
        model = {"type": "file", "format": "text", "content": text}
        response = self.session.put(self.contents_url(name, path), json=model, timeout=30)
        response.raise_for_status()

    def read_file(self, name: str, path: str) -> str | None:
        response = self.session.get(self.contents_url(name, path), timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["content"]

    def delete_file(self, name: str, path: str) -> None:
        self.session.delete(self.contents_url(name, path), timeout=30).raise_for_status()

"""pytest fixtures for the dev services: the real Keycloak and the mock Moodle.

The conftest.py of each test folder that needs them imports the fixtures (`keycloak`,
`mock_moodle_factory`); nothing loads them for every test tree. It needs the test dependencies
(pytest, PyYAML, the mock Moodle's); the noxfile never imports it.

- `keycloak` (session): the campus realm on a Keycloak started once and reused; a Keycloak that
  already runs on the port is reused and left running. `JHK8S_KEYCLOAK_PORT` picks the port
  (default 8180); `JHK8S_KEEP_KEYCLOAK=1` leaves a Keycloak the fixture started running afterwards.
- `mock_moodle_factory` (session): `start(hub_url, host=None, **sections)` runs a mock Moodle whose
  tool URLs point at the hub at `hub_url` (with its url prefix, e.g. `http://127.0.0.1:8000/` or
  `.../prefix/`). `start(hub_url, site=SiteTls(...), **sections)` runs it over HTTPS on another
  site's name (e.g. `https://moodle.school.test`) that the caller routes to `site.port`.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from dev_keycloak import server as keycloak_server
from devenv.browser_trust import trusting_home
from devenv.host_names import HostRoute, chromium_rules
from devenv.tls import RunCA, ServerCertificate
from mock_moodle.config import for_hub
from mock_moodle.server import MockMoodleProcess, ServerTls, free_port
from tools.bootstrap import prerequisites
from tools.bootstrap.paths import logs_dir

# Debian's Chromium as root on a closed network: no sandbox (root), and no background
# connections, which this machine refuses many at a time and which slow every page.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_launch_args(
    trusted_ca: RunCA | None = None, routes: Iterable[HostRoute] = ()
) -> dict[str, Any]:
    """Keyword arguments for Playwright's `chromium.launch`: Debian's Chromium, with our flags.

    With `trusted_ca`, Chromium runs with a home folder whose NSS database trusts that CA (and
    nothing else changes: other certificate errors stay errors); `routes` answer host names of
    other sites on loopback ports (`--host-resolver-rules`). Playwright cannot download its own
    browser here; a test fails (not skips) without Chromium.
    """
    chromium = prerequisites.chromium_path()
    if chromium is None:
        pytest.fail("Chromium is needed: apt-get install chromium, or set CHROMIUM_PATH")
    launch: dict[str, Any] = {"executable_path": chromium, "args": list(CHROMIUM_ARGS)}
    routes = tuple(routes)
    if routes:
        launch["args"].append(f"--host-resolver-rules={chromium_rules(routes)}")
    if trusted_ca is not None:
        launch["env"] = {**os.environ, "HOME": str(trusting_home(trusted_ca))}
    return launch


@contextmanager
def launched_chromium(launch: dict[str, Any]) -> Iterator[Any]:
    """Chromium launched by Playwright with `launch` (`chromium_launch_args(...)`), closed after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch)
        yield browser
        browser.close()


@contextmanager
def fresh_page(browser: Any, hub: Any) -> Iterator[Any]:
    """A page of a new browser profile, for a hub process without users (`hub.delete_all_users`)."""
    hub.delete_all_users()
    context = browser.new_context()
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


@dataclass(frozen=True)
class KeycloakRealm:
    """The running campus realm and what a test needs to sign in to it."""

    server: keycloak_server.Keycloak
    users: dict[str, keycloak_server.DevUser]
    client_secrets: dict[str, str]
    client_id: str = "jupyterhub"
    short_token_client_id: str = "jupyterhub-short-tokens"  # noqa: S105 - a client id
    """A client whose access tokens live 10 s, for token-refresh tests."""

    @property
    def client_secret(self) -> str:
        return self.client_secrets[self.client_id]

    def tokens(self, username: str, client_id: str | None = None) -> dict[str, Any]:
        """Tokens for a realm user (password grant), e.g. to call the hub as that user."""
        client = client_id or self.client_id
        user = self.users[username]
        return self.server.password_grant(
            user.username, user.password, client, self.client_secrets[client]
        )


def realm_from_file(server: keycloak_server.Keycloak) -> KeycloakRealm:
    """Users, passwords and client secrets as the realm file defines them (one source of truth)."""
    realm = json.loads(keycloak_server.REALM_FILE.read_text())
    secrets = {client["clientId"]: client["secret"] for client in realm["clients"]}
    return KeycloakRealm(server, keycloak_server.realm_users(), secrets)


@contextmanager
def keycloak_over_https(
    port: int,
    ca: RunCA,
    cache_folder: Path,
    url: str = "https://login.campus.test",
    realm: dict[str, Any] | None = None,
) -> Iterator[KeycloakRealm]:
    """A Keycloak of its own on `url` over HTTPS (the run CA's `login` certificate), importing
    `realm` (default: the realm file); the caller routes `url`'s name to `port`.

    Its distribution is unpacked in `cache_folder`, so that its database and pid files never meet
    those of the Keycloak other tests share; it is stopped afterwards.
    """
    site = ca.site("login")
    tls = keycloak_server.KeycloakTls(site.cert_file, site.key_file, url, ca.client_context())
    saved = os.environ.get("JHK8S_CACHE_DIR")
    os.environ["JHK8S_CACHE_DIR"] = str(cache_folder)
    try:
        yield realm_from_file(keycloak_server.start(port, tls=tls, realm=realm))
    except keycloak_server.KeycloakError as error:
        pytest.fail(f"Keycloak could not be started: {error}", pytrace=False)
    finally:
        keycloak_server.stop(port)
        if saved is None:
            del os.environ["JHK8S_CACHE_DIR"]
        else:
            os.environ["JHK8S_CACHE_DIR"] = saved


@pytest.fixture(scope="session")
def keycloak() -> Iterator[KeycloakRealm]:
    port = int(os.environ.get("JHK8S_KEYCLOAK_PORT", keycloak_server.DEFAULT_PORT))
    already_running = keycloak_server.running(port) is not None
    try:
        server = keycloak_server.start(port)
    except keycloak_server.KeycloakError as error:
        pytest.fail(f"Keycloak could not be started: {error}", pytrace=False)
    yield realm_from_file(server)
    if not already_running and not os.environ.get("JHK8S_KEEP_KEYCLOAK"):
        keycloak_server.stop(port)


# --- The mock Moodle ----------------------------------------------------------------------------


@dataclass
class RunningMockMoodle:
    """A mock Moodle serving on localhost, and what a hub needs to trust it."""

    url: str
    platform: dict[str, Any]
    """The mock's /platform.json: LTI 1.1 key and secret, LTI 1.3 issuer, client, URLs."""
    users: list[str] = field(default_factory=list)
    courses: list[str] = field(default_factory=list)
    client_context: ssl.SSLContext | None = None
    """Trusts the mock's certificate when it serves HTTPS."""

    def lti13_platform(self, **trust: Any) -> dict[str, Any]:
        """The hub's LTI13Login.platforms entry for this mock, with `trust` (name, usernames)."""
        lti13 = self.platform["lti13"]
        return {
            "issuer": lti13["issuer"],
            "client_ids": [lti13["client_id"]],
            "deployment_ids": [lti13["deployment_id"]],
            "authorize_url": lti13["authorize_url"],
            "jwks_url": lti13["jwks_url"],
            **trust,
        }

    def course_url(self, username: str, context_id: str) -> str:
        query = urllib.parse.urlencode({"user": username})
        return f"{self.url}/course/{urllib.parse.quote(context_id)}?{query}"

    def launch_url(
        self, lti_version: str, username: str, context_id: str, invalid: str | None = None
    ) -> str:
        """The page that starts a launch (`lti_version` "1.1" or "1.3"), valid or broken."""
        path = {"1.1": "/lti11/launch", "1.3": "/lti13/launch"}[lti_version]
        query = {
            "user": username,
            "course": context_id,
            **({"invalid": invalid} if invalid else {}),
        }
        return f"{self.url}{path}?{urllib.parse.urlencode(query)}"

    def embedded_launch_url(self, username: str, context_id: str) -> str:
        """A course page with the LTI 1.3 launch inside an iframe (launch container "Embed")."""
        query = urllib.parse.urlencode({"user": username, "course": context_id})
        return f"{self.url}/lti13/embedded?{query}"

    def launch_form(
        self, lti_version: str, username: str, context_id: str, invalid: str | None = None
    ) -> dict[str, Any]:
        """The form the launch page would auto-submit, as `{"url", "method", "fields"}`."""
        url = self.launch_url(lti_version, username, context_id, invalid) + "&format=json"
        with urllib.request.urlopen(url, timeout=10, context=self.client_context) as response:  # noqa: S310
            return json.load(response)


@dataclass(frozen=True)
class SiteTls:
    """The mock Moodle on another site's name over HTTPS: `url` (e.g. https://moodle.school.test),
    which the caller routes to `port`, served with the run CA's `certificate`."""

    url: str
    port: int
    certificate: ServerCertificate
    ca: RunCA


@pytest.fixture(scope="session")
def mock_moodle_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RunningMockMoodle]]:
    """`start(hub_url, host=None, **sections)` -> RunningMockMoodle; all stop after the session.

    `host` names the mock in its URLs (e.g. "localhost" while the hub is at 127.0.0.1, so that
    launches are cross-site as from a real Moodle); it always listens on 127.0.0.1.
    """
    started: list[MockMoodleProcess] = []

    def start(
        hub_url: str, host: str | None = None, site: SiteTls | None = None, **sections: Any
    ) -> RunningMockMoodle:
        data = for_hub(hub_url, **sections)
        port = site.port if site else free_port()
        if site is not None:
            data.setdefault("platform", {})["url"] = site.url
        elif host is not None:
            # Another host name for the same loopback address makes launches cross-site.
            data.setdefault("platform", {})["url"] = f"http://{host}:{port}"
        config_file = Path(tmp_path_factory.mktemp("mock-moodle")) / "config.yaml"
        config_file.write_text(yaml.safe_dump(data))
        context = site.ca.client_context() if site else None
        process = MockMoodleProcess(
            config_file,
            port,
            log_file=logs_dir() / "mock-moodle.log",
            tls=ServerTls(site.certificate.cert_file, site.certificate.key_file) if site else None,
            check_url=site.url if site else None,
            client_context=context,
        )
        started.append(process.start())
        with urllib.request.urlopen(  # noqa: S310 - our own mock
            f"{process.url}/platform.json", timeout=10, context=context
        ) as response:
            platform = json.load(response)
        return RunningMockMoodle(
            platform["url"],
            platform,
            [user["username"] for user in data["users"]],
            [course["context_id"] for course in data["courses"]],
            context,
        )

    yield start
    for process in started:
        process.stop()

"""Fixtures of the end-to-end suite: the dev environment, Chromium, hub API access, artifacts.

Runs against the environment `python -m devenv.dev_env up` brings up; fails (does not skip)
when it does not answer. On a failure the test's screenshot and Playwright trace (pytest-playwright,
`--output`) and a report of the namespace (pods, events, logs) stay under `artifacts/e2e/`, and
the failure output names the folder.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from environment import Environment
from pages import HubPages
from playwright.sync_api import Browser, BrowserContext, Page, expect
from waits import wait_until

from devenv import dev_env, prerequisites
from devenv.paths import REPO_ROOT

ARTIFACTS = REPO_ROOT / "artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXPECT_TIMEOUT_MS = 30_000
LOG_LINES = 300
SERVER_STOP_WAIT_S = 180


def pytest_configure(config: pytest.Config) -> None:
    """Keep traces and screenshots of failed tests unless the command line says otherwise."""
    if getattr(config.option, "tracing", None) == "off":
        config.option.tracing = "retain-on-failure"
    if getattr(config.option, "screenshot", None) == "off":
        config.option.screenshot = "only-on-failure"
    if getattr(config.option, "output", None) == "test-results":
        config.option.output = str(ARTIFACTS)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium: Playwright's own browser downloads do not work offline."""
    chromium = prerequisites.chromium_path()
    if chromium is None:
        pytest.fail("Chromium is missing: `apt-get install chromium`", pytrace=False)
    return {**browser_type_launch_args, "executable_path": chromium, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def env() -> Environment:
    environment = Environment.from_ports()
    silent = [url for url in dev_env.answer_checks().values() if not dev_env.answers(url)]
    if silent:
        pytest.fail(
            f"the dev environment does not answer at {', '.join(silent)}: "
            "run `python -m devenv.dev_env up` first",
            pytrace=False,
        )
    return environment


# --- Hub API access -----------------------------------------------------------------------------


def xsrf_headers(context: BrowserContext) -> dict[str, str]:
    """Cookie-authenticated API calls need the hub's XSRF token in a header."""
    token = next((c["value"] for c in context.cookies() if c["name"] == "_xsrf"), "")
    return {"X-XSRFToken": token}


def sign_in(context: BrowserContext, env: Environment, username: str) -> Page:
    """A page of `context` signed in to the hub through Keycloak as `username`."""
    page = context.new_page()
    account = env.accounts[username]
    HubPages(page, env.hub_url).sign_in_with_keycloak(account.username, account.password)
    return page


class HubAdmin:
    """The hub's REST API with an admin's token (made through the admin's browser login)."""

    def __init__(self, hub_url: str, token: str) -> None:
        self.api = f"{hub_url}/hub/api"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def user(self, name: str) -> dict[str, Any] | None:
        response = self.session.get(f"{self.api}/users/{name}", timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def server_running(self, name: str) -> bool:
        user = self.user(name)
        return bool(user and user.get("servers", {}).get("", {}).get("ready"))

    def server_exists(self, name: str) -> bool:
        user = self.user(name)
        return bool(user and "" in user.get("servers", {}))

    def ensure_user(self, name: str) -> None:
        if self.user(name) is None:
            self.session.post(f"{self.api}/users/{name}", timeout=30).raise_for_status()

    def start_server(self, name: str, options: dict[str, Any]) -> requests.Response:
        return self.session.post(f"{self.api}/users/{name}/server", json=options, timeout=60)

    def contents_url(self, name: str, path: str) -> str:
        """The user's server's contents API (admins may access every server)."""
        return f"{self.api.removesuffix('/hub/api')}/user/{name}/api/contents/{path}"

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

    def stop_server(self, env: Environment, name: str) -> None:
        """Stop the user's default server (if any) and wait until its pod is gone."""
        if self.server_exists(name):
            response = self.session.delete(f"{self.api}/users/{name}/server", timeout=60)
            if response.status_code not in (202, 204, 400):
                response.raise_for_status()
        wait_until(
            lambda: not self.server_exists(name) and not env.lab_pods(name),
            timeout_s=SERVER_STOP_WAIT_S,
            what=f"{name}'s server to stop",
        )


@pytest.fixture(scope="session")
def hub_admin(browser: Browser, env: Environment) -> Iterator[HubAdmin]:
    context = browser.new_context()
    sign_in(context, env, "admin")
    response = context.request.post(
        f"{env.hub_url}/hub/api/users/admin/tokens",
        data={"note": "e2e suite", "expires_in": 3600},
        headers=xsrf_headers(context),
    )
    assert response.ok, f"creating an admin API token failed: {response.status} {response.text()}"
    yield HubAdmin(env.hub_url, response.json()["token"])
    context.close()


# --- Artifacts ----------------------------------------------------------------------------------


def artifact_dir(item: pytest.Item) -> Path:
    """pytest-playwright's folder for this test, so everything of one test sits together."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", item.nodeid).strip("-").lower()
    return Path(item.config.option.output) / slug / "namespace"


def namespace_report(env: Environment, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    commands = {
        "pods.txt": ["get", "pods", "-o", "wide"],
        "events.txt": ["get", "events", "--sort-by=.lastTimestamp"],
        "describe-pods.txt": ["describe", "pods"],
    }
    for name, args in commands.items():
        folder.joinpath(name).write_text(run_quietly(env, *args))
    for pod in run_quietly(env, "get", "pods", "-o", "name").split():
        log = run_quietly(env, "logs", pod, "--all-containers", f"--tail={LOG_LINES}")
        folder.joinpath(f"log-{pod.removeprefix('pod/')}.txt").write_text(log)


def run_quietly(env: Environment, *args: str) -> str:
    try:
        return env.kubectl(*args)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        return f"kubectl {' '.join(args)} failed: {getattr(error, 'stderr', error)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        folder = artifact_dir(item)
        namespace_report(Environment.from_ports(), folder)
        report.sections.append(
            ("e2e artifacts", f"screenshots, traces and the namespace report: {folder.parent}")
        )
    return report

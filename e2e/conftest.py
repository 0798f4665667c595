"""Fixtures of the end-to-end suite: the dev environment, Chromium, hub API access, artifacts.

Runs against the environment `python -m devenv.dev_env up` brings up; fails (does not skip)
when it does not answer. On a failure the test's screenshot and Playwright trace (pytest-playwright,
`--output`) and a report of the namespace (pods, events, logs) stay under `artifacts/e2e/`, and
the failure output names the folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from environment import Environment
from hub_api import HubAdmin
from loopback import resolve_localhost_subdomains
from pages import HubPages
from playwright.sync_api import Browser, BrowserContext, Page, expect
from slugify import slugify

from devenv import dev_env
from service_fixtures import chromium_launch_args
from tools.bootstrap.paths import REPO_ROOT
from tools.bootstrap.run import RunError

ARTIFACTS = REPO_ROOT / "artifacts" / "e2e"
EXPECT_TIMEOUT_MS = 30_000
LOG_LINES = 300


def pytest_configure(config: pytest.Config) -> None:
    """Keep traces and screenshots of failed tests unless the command line says otherwise."""
    if getattr(config.option, "tracing", None) == "off":
        config.option.tracing = "retain-on-failure"
    if getattr(config.option, "screenshot", None) == "off":
        config.option.screenshot = "only-on-failure"
    if getattr(config.option, "output", None) == "test-results":
        config.option.output = str(ARTIFACTS)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    # Users' servers are on <user>.localhost; Chromium resolves those names, Python must too.
    resolve_localhost_subdomains()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium: Playwright's own browser downloads do not work offline."""
    return {**browser_type_launch_args, **chromium_launch_args()}


@pytest.fixture(scope="session")
def env() -> Environment:
    environment = Environment.from_ports()
    checks = dev_env.current().answer_checks
    silent = [url for url in checks.values() if not dev_env.answers(url)]
    if silent:
        pytest.fail(
            f"the dev environment does not answer at {', '.join(silent)}: "
            "run `python -m devenv.dev_env up` first",
            pytrace=False,
        )
    return environment


# --- Hub API access -----------------------------------------------------------------------------


def sign_in(context: BrowserContext, env: Environment, username: str) -> Page:
    """A page of `context` signed in to the hub through Keycloak as `username`."""
    page = context.new_page()
    account = env.accounts[username]
    HubPages(page, env).sign_in_with_keycloak(account.username, account.password)
    return page


@pytest.fixture(scope="session")
def hub_admin(browser: Browser, env: Environment) -> Iterator[HubAdmin]:
    context = browser.new_context()
    sign_in(context, env, "admin")
    yield HubAdmin.from_signed_in_context(context, env)
    context.close()


# --- Artifacts ----------------------------------------------------------------------------------


def artifact_dir(item: pytest.Item) -> Path:
    """pytest-playwright's folder for this test, so everything of one test sits together."""
    return Path(item.config.option.output) / slugify(item.nodeid) / "namespace"


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
    except RunError as error:
        return str(error)


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

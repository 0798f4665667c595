"""Fixtures of the end-to-end suite: the environment, Chromium, hub API access, artifacts.

Runs against the environment `python -m devenv.dev_env up` brings up, or with
`--environment=rehearsal` the production rehearsal (`python -m devenv.rehearsal up`: HTTPS
on other sites' names, which Chromium reaches trusting the run's CA and routing the names to
the loopback); fails (does not skip) when it does not answer. Tests marked `rehearsal` (the
upgrade story) run only against the rehearsal. On a failure the test's screenshot and Playwright
trace (pytest-playwright, `--output`) and a report of the namespace (pods, events, logs) stay
under `artifacts/e2e/`, and the failure output names the folder.
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
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from slugify import slugify

from devenv import dev_env, tls
from devenv.rehearsal import environment as rehearsal_environment
from devenv.rehearsal import steps as rehearsal_steps
from service_fixtures import chromium_launch_args
from tools.bootstrap.paths import REPO_ROOT
from tools.bootstrap.run import RunError

ARTIFACTS = REPO_ROOT / "artifacts" / "e2e"
EXPECT_TIMEOUT_MS = 30_000
LOG_LINES = 300


ENVIRONMENTS = ("dev", "rehearsal")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--environment",
        choices=ENVIRONMENTS,
        default="dev",
        help="the environment the stories run against (default: dev)",
    )


def deployed(config: pytest.Config) -> dev_env.DevEnvironment:
    if config.getoption("--environment") == "rehearsal":
        return rehearsal_environment.current()
    return dev_env.current()


def pytest_configure(config: pytest.Config) -> None:
    """Keep traces and screenshots of failed tests unless the command line says otherwise."""
    if getattr(config.option, "tracing", None) == "off":
        config.option.tracing = "retain-on-failure"
    if getattr(config.option, "screenshot", None) == "off":
        config.option.screenshot = "only-on-failure"
    if getattr(config.option, "output", None) == "test-results":
        config.option.output = str(ARTIFACTS)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    config.addinivalue_line("markers", "rehearsal: runs only with --environment=rehearsal")
    if config.getoption("--environment") == "rehearsal":
        # Python clients trust the run's CA and route the sites' names as Chromium does.
        rehearsal_steps.trust_run_ca(rehearsal_environment.current())
    else:
        # Users' servers are on <user>.localhost; Chromium resolves those names, Python must too.
        resolve_localhost_subdomains()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--environment") == "rehearsal":
        # The upgrade story first: the other stories run against the upgraded release.
        items.sort(key=lambda item: item.get_closest_marker("rehearsal") is None)
        return
    dropped = [item for item in items if item.get_closest_marker("rehearsal")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("rehearsal")]


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], pytestconfig: pytest.Config
) -> dict[str, Any]:
    """Debian's Chromium (Playwright's own browser downloads do not work offline); for the
    rehearsal, trusting the run's CA and routing the sites' names to their ports."""
    target = deployed(pytestconfig)
    if isinstance(target, rehearsal_environment.RehearsalEnvironment):
        launch = chromium_launch_args(tls.ensure(), target.routes)
    else:
        launch = chromium_launch_args()
    return {**browser_type_launch_args, **launch}


@pytest.fixture(scope="session")
def env(pytestconfig: pytest.Config) -> Environment:
    target = deployed(pytestconfig)
    silent = [url for url in target.answer_checks.values() if not dev_env.answers(url)]
    if silent:
        command = pytestconfig.getoption("--environment")
        pytest.fail(
            f"the {command} environment does not answer at {', '.join(silent)}: run "
            f"`python -m {'devenv.rehearsal' if command == 'rehearsal' else 'devenv.dev_env'} "
            "up` first",
            pytrace=False,
        )
    return Environment.of(target)


# --- Hub API access -----------------------------------------------------------------------------


def sign_in(context: BrowserContext, env: Environment, username: str) -> Page:
    """A page of `context` signed in to the hub through Keycloak as `username`."""
    page = context.new_page()
    account = env.accounts[username]
    HubPages(page, env).sign_in_with_keycloak(account.username, account.password)
    return page


def signed_in_admin(env: Environment) -> HubAdmin:
    """The administrator's hub API, signed in once through a browser of its own: for the
    benchmarks, which run outside pytest."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_args())
        sign_in(browser.new_context(), env, "admin")
        admin = HubAdmin.from_signed_in_context(browser.contexts[0], env)
        browser.close()
    return admin


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
        namespace_report(Environment.of(deployed(item.config)), folder)
        report.sections.append(
            ("e2e artifacts", f"screenshots, traces and the namespace report: {folder.parent}")
        )
    return report

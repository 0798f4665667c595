"""The upgrade story of the production rehearsal: the previous release runs with a student's
server and work; `helm upgrade` to the release under test, from the registry by version; the hub
comes back, the server was never restarted, the work is there and the database is migrated.

Runs first (e2e/conftest.py orders it so), so that the other stories run against the
upgraded release. Only with `--environment=rehearsal`.
"""

from __future__ import annotations

import json

import pytest
from environment import Environment
from hub_api import HubAdmin
from pages import LabPage, MockMoodlePages
from playwright.sync_api import BrowserContext
from test_user_stories import HUB_RESTART_WAIT_S, hub_deployment, lab_pod
from waits import wait_until

from devenv.rehearsal import environment, releases, steps

pytestmark = [pytest.mark.cluster, pytest.mark.rehearsal]

WORK = "before-the-upgrade.txt"
COURSE = "101"  # the mock Moodle's course that opens the Python lab directly
MIGRATED = ("python", "-m", "hubconfig.migrations")


def installed_chart_version(env: Environment) -> str:
    """The chart version of the hub's release, as Helm recorded it (its `helm.sh/chart` label)."""
    hub = json.loads(env.kubectl("get", hub_deployment(env), "-o", "json"))
    chart = hub["metadata"]["labels"]["helm.sh/chart"]
    return chart.removeprefix("jupyterhub-k8s-")


def test_an_upgrade_keeps_servers_and_work_and_migrates_the_database(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    previous, target = releases.recorded_previous().version, steps.target_version()
    assert previous != target, "the rehearsal upgrades from one release to another"
    assert installed_chart_version(env) == previous, "the rehearsal installs the previous release"
    # A Moodle launch (LTI 1.3: a nonce, a link) on the previous release fills our tables too.
    hub_admin.stop_server("student")
    page = new_context().new_page()
    MockMoodlePages(page, env.mock_moodle_url).launch("1.3", "student", COURSE)
    LabPage(page).wait_until_loaded()
    pod_uid = lab_pod(env, "student")["metadata"]["uid"]
    hub_admin.write_file("student", WORK, "written before the upgrade")

    steps.install_hub(environment.current(), target)

    assert installed_chart_version(env) == target
    wait_until(
        lambda: hub_admin.session.get(f"{env.hub_url}/hub/health", timeout=5).ok,
        timeout_s=HUB_RESTART_WAIT_S,
        what="the upgraded hub to answer",
    )
    assert hub_admin.server_running("student"), hub_admin.server("student")
    assert lab_pod(env, "student")["metadata"]["uid"] == pod_uid, "the server kept running"
    assert hub_admin.read_file("student", WORK) == "written before the upgrade"
    # Exits 1 (a RunError with its output) when a table or JupyterHub's schema is behind.
    report = env.kubectl("exec", hub_deployment(env), "--", *MIGRATED)
    assert "migrated" in report, report
    page.reload()
    LabPage(page).wait_until_loaded()

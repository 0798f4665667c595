"""A lab no node can hold: the start fails within seconds with a clear message, and no pod stays.

Needs what test_cluster_install.py needs (the cluster up, the hub, proxy and lab-base images
built); the hub image must hold this branch's hubconfig. The release lives in its own namespace
and is removed after. Its only profile guarantees more CPUs than any kind node has, so the
scheduler marks the pod Unschedulable ("0/3 nodes are available: 3 Insufficient cpu").
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests
import yaml
from test_cluster_install import TOKEN, api, installed_hub_api, release_values, wait_until

from devenv import cluster_config

pytestmark = pytest.mark.cluster

NAMESPACE = "cluster-full-e2e"
RELEASE = "full"
KUBECTL = cluster_config.current().kubectl.in_namespace(NAMESPACE)
START_TIMEOUT_S = 300
GRACE_S = 15
# Far below the start timeout: the grace, the scheduler's first verdict and the pod's creation.
TOLD_WITHIN_S = GRACE_S + 30
POD_GONE_WAIT_S = 60


@pytest.fixture(scope="module")
def hub_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chart_values = release_values()
    chart_values["singleuser"].update(
        startTimeout=START_TIMEOUT_S,
        unschedulableTimeout=GRACE_S,
        profileList=[
            {
                "slug": "huge",
                "displayName": "Huge lab",
                "description": "More CPUs than any node has.",
                "default": True,
                "cpu": {"guarantee": 64, "limit": 64},
                "allowedGroups": [],
            }
        ],
        # The dev values map a course to a profile this release lacks; helm merges maps.
        courseProfiles={"moodle/nlp-101": "huge"},
    )
    path = tmp_path_factory.mktemp("full") / "values-full.yaml"
    path.write_text(yaml.safe_dump(chart_values))
    with installed_hub_api(path, release=RELEASE, namespace=NAMESPACE) as url:
        yield url


def progress_until_done(url: str, user: str) -> list[tuple[float, dict]]:
    """The spawn progress stream (the page's source) until it fails or is ready: each event
    with the monotonic time it came."""
    events: list[tuple[float, dict]] = []
    with requests.get(
        f"{url}/users/{user}/server/progress",
        headers={"Authorization": f"token {TOKEN}"},
        stream=True,
        timeout=START_TIMEOUT_S,
    ) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                event = json.loads(line.removeprefix("data:"))
                events.append((time.monotonic(), event))
                if event.get("failed") or event.get("ready"):
                    break
    return events


def test_a_lab_no_node_can_hold_fails_soon_with_the_reason(hub_api: str) -> None:
    api(hub_api, "POST", "/users/lena")
    asked = time.monotonic()
    started = api(hub_api, "POST", "/users/lena/server")
    assert started.status_code == 202, started.text
    events = progress_until_done(hub_api, "lena")
    told_at, last = events[-1]
    # KubeSpawner's progress shows each pod event's message: the scheduler's "... Insufficient cpu".
    scheduler_said = [at for at, event in events[:-1] if "Insufficient cpu" in event["message"]]
    assert scheduler_said, [event for _, event in events]
    reason_at = scheduler_said[0]
    print(
        f"\nthe spawn page showed the scheduler's reason {reason_at - asked:.1f} s and said the "
        f"cluster is full {told_at - asked:.1f} s after the start"
    )

    assert last.get("failed"), last
    assert "All lab machines are busy right now" in last["message"]
    assert "Insufficient cpu" in last["message"]
    assert "SpawnException" not in last["message"]
    assert GRACE_S <= told_at - asked < TOLD_WITHIN_S
    assert reason_at < told_at
    wait_until(
        lambda: not KUBECTL.get("pods", "-l", "hub.jupyter.org/username=lena")["items"],
        POD_GONE_WAIT_S,
        "lena's unschedulable pod to be deleted",
    )
    assert api(hub_api, "GET", "/users/lena").json()["servers"] == {}

"""A full cluster through JupyterHub itself: the student reads why, and the hub stays up.

JupyterHub exits after `consecutive_failure_limit` failed starts in a row; a lecture that fills
the cluster must not take the hub down with it. The hub is real, KubeSpawner's wait for the pod
is a stand-in, and the pod reflector shows the pod as the scheduler leaves it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    chart_values_fixture,
    offline_kubeconfig_fixture,
)
from hub_in_process import HubUnderTest, running_hub
from kubespawner import KubeSpawner
from podless_spawner import PodlessProfileSpawner

from hubconfig import spawner as spawner_module
from hubconfig.spawner import ProfileSpawner
from hubconfig.unschedulable import cluster_full_message

NO_ROOM = "0/3 nodes are available: 3 Insufficient cpu."
SCHEDULER_SAYS = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
UNSCHEDULABLE = {"status": {"conditions": [{**SCHEDULER_SAYS, "message": NO_ROOM}]}}
FAILURE_LIMIT = 2
WAIT_S = 10


class AllPodsUnschedulable:
    """The pod reflector of a cluster where no lab fits."""

    class _Pods(dict):
        def get(self, key: str, default: Any = None) -> Any:
            return UNSCHEDULABLE

    pods = _Pods()


# KubeSpawner loads a kubeconfig when a spawner is made; the machine may have none.
pytestmark = pytest.mark.usefixtures("offline_kubeconfig")


@pytest.fixture
async def hub(chart_values: dict, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HubUnderTest]:
    chart_values["hub"]["consecutiveFailureLimit"] = FAILURE_LIMIT
    chart_values["singleuser"]["unschedulableTimeout"] = 1
    monkeypatch.setattr(spawner_module, "UNSCHEDULABLE_POLL_S", 0.05)
    monkeypatch.setattr(
        ProfileSpawner, "pod_reflector", property(lambda self: AllPodsUnschedulable)
    )
    monkeypatch.setattr(PodlessProfileSpawner, "_start_pod", ProfileSpawner._start_pod)
    async with running_hub(chart_values, {"students": ["ann", "bob", "cem", "dan"]}) as running:
        yield running


def kube_start(failure: Exception | None) -> Any:
    """KubeSpawner's start as far as this test needs it: options, then waiting for the pod."""

    async def start(self: ProfileSpawner) -> Any:
        await self.load_user_options()
        if failure is not None:
            raise failure
        await asyncio.sleep(3600)

    return start


async def failed_start(hub: HubUnderTest, user: str) -> dict[str, Any]:
    """Start `user`'s lab, wait until it is no longer pending; the progress stream's last event."""
    started = await hub.api("POST", f"/users/{user}/server")
    # 202 while pending; the error itself when the start failed within a second.
    assert started.status_code in (202, 500, 503), started.text
    deadline = time.monotonic() + WAIT_S
    while (await hub.api("GET", f"/users/{user}")).json()["servers"]:
        assert time.monotonic() < deadline, f"{user}'s start did not fail"
        await asyncio.sleep(0.1)
    progress = await hub.api("GET", f"/users/{user}/server/progress")
    events = [line for line in progress.text.splitlines() if line.startswith("data:")]
    return json.loads(events[-1].removeprefix("data:"))


async def test_full_cluster_failures_tell_why_and_do_not_count_toward_the_hub_exit(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KubeSpawner, "_start", kube_start(None))
    for user in ("ann", "bob", "cem"):
        last = await failed_start(hub, user)
        assert last["failed"]
        assert last["message"] == f"Spawn failed: {cluster_full_message(NO_ROOM)}"
    assert hub.app.tornado_settings["failure_count"] == 0
    # An error of another kind still counts, so the count above is the hub's live one.
    monkeypatch.setattr(KubeSpawner, "_start", kube_start(RuntimeError("API server gone")))
    await failed_start(hub, "dan")
    assert hub.app.tornado_settings["failure_count"] == 1

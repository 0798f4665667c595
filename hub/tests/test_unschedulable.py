"""A lab whose pod no node can hold: when the start gives up, and what the student reads."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    chart_values_fixture,
    hub_user,
    make_spawner,
    offline_kubeconfig_fixture,
)
from jupyterhub.spawner import SpawnException
from jupyterhub.utils import format_exception
from kubespawner import KubeSpawner

from hubconfig import spawner as spawner_module
from hubconfig.spawner import ProfileSpawner
from hubconfig.unschedulable import (
    REASON_LIMIT,
    ClusterFull,
    UnschedulableWatch,
    is_cluster_full,
    scheduler_reason,
    short_reason,
)

pytestmark = pytest.mark.usefixtures("offline_kubeconfig")

NO_ROOM = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available."


def pod(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "jupyter-lena"}, "status": {"conditions": list(conditions)}}


UNSCHEDULABLE = pod(
    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": NO_ROOM}
)
SCHEDULED = pod({"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"})


def test_only_an_unschedulable_condition_gives_a_reason() -> None:
    assert scheduler_reason(UNSCHEDULABLE) == NO_ROOM
    assert scheduler_reason(SCHEDULED) is None
    assert scheduler_reason(pod()) is None
    assert scheduler_reason({"metadata": {}, "status": {}}) is None
    assert scheduler_reason(None) is None
    # Waiting on a scheduling gate is not the cluster being full.
    gated = pod({"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"})
    assert scheduler_reason(gated) is None


def test_the_watch_gives_up_only_after_the_grace_of_one_unbroken_wait() -> None:
    watch = UnschedulableWatch(15)
    assert watch.give_up_reason(None, 0) is None
    assert watch.give_up_reason(UNSCHEDULABLE, 1) is None
    assert watch.give_up_reason(UNSCHEDULABLE, 15.9) is None
    assert watch.give_up_reason(UNSCHEDULABLE, 16) == NO_ROOM


def test_a_pod_scheduled_in_between_starts_the_grace_again() -> None:
    watch = UnschedulableWatch(15)
    watch.give_up_reason(UNSCHEDULABLE, 0)
    assert watch.give_up_reason(SCHEDULED, 10) is None
    assert watch.give_up_reason(UNSCHEDULABLE, 20) is None
    assert watch.give_up_reason(UNSCHEDULABLE, 34) is None
    assert watch.give_up_reason(UNSCHEDULABLE, 35) == NO_ROOM


def test_the_students_message_is_plain_and_short_whatever_the_cluster_writes() -> None:
    failure = ClusterFull(NO_ROOM)
    assert isinstance(failure, SpawnException)
    assert failure.jupyterhub_message == (
        "All lab machines are busy right now (the cluster has no room for this lab: "
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available)."
        " Please try again in a few minutes."
    )
    hostile = "x" * 5000 + "\n  File secret.py, line 1\x1b[31m"
    assert len(short_reason(hostile)) == REASON_LIMIT
    assert short_reason("one\x1b[31m line\nsecond line") == "one[31m line"
    assert short_reason("  ") == "no node fits the lab"
    assert short_reason(" . ") == "no node fits the lab"


def test_a_condition_without_a_message_still_gives_the_student_a_reason() -> None:
    silent = pod({"type": "PodScheduled", "status": "False", "reason": "Unschedulable"})
    assert scheduler_reason(silent) == ""
    assert "(the cluster has no room for this lab: no node fits the lab)." in (
        ClusterFull(scheduler_reason(silent) or "").jupyterhub_message
    )


def test_the_failure_is_recognised_as_the_progress_stream_shows_it() -> None:
    message, _ = format_exception(ClusterFull(NO_ROOM))
    assert is_cluster_full(f"Spawn failed: {message}")
    assert not is_cluster_full("Spawn failed: pod jupyterhub/jupyter-lena did not start in 180 s")


class FakeReflector:
    def __init__(self, pods: dict[str, dict[str, Any]]) -> None:
        self.pods = pods


@pytest.fixture
async def lab(chart_values: dict, monkeypatch: pytest.MonkeyPatch) -> ProfileSpawner:
    """A spawner whose KubeSpawner start waits as it would for a pod, and whose pod reflector
    shows what the test puts in `lab.fake_pods`."""
    monkeypatch.setattr(spawner_module, "UNSCHEDULABLE_POLL_S", 0.02)
    spawner = make_spawner(chart_values, hub_user("lena", []))
    spawner.unschedulable_timeout = 1
    spawner.fake_pods = {}
    spawner.kube_start_cancelled = False
    reflector = FakeReflector(spawner.fake_pods)
    monkeypatch.setattr(ProfileSpawner, "pod_reflector", property(lambda self: reflector))
    return spawner


def kube_start_taking(seconds: float, result: Any = ("10.0.0.7", 8888)) -> Any:
    async def kube_start(self: ProfileSpawner) -> Any:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.kube_start_cancelled = True
            raise
        if isinstance(result, Exception):
            raise result
        return result

    return kube_start


def show(lab: ProfileSpawner, shown: dict[str, Any]) -> None:
    lab.fake_pods[f"{lab.namespace}/{lab.pod_name}"] = shown


async def test_an_unschedulable_pod_stops_the_start_after_the_grace(
    lab: ProfileSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KubeSpawner, "_start", kube_start_taking(300))
    show(lab, UNSCHEDULABLE)
    began = time.monotonic()
    with pytest.raises(SpawnException) as failed:
        await lab._start_pod()
    assert 1 <= time.monotonic() - began < 2
    assert failed.value.reason == "cluster-full"
    assert "Insufficient cpu" in failed.value.jupyterhub_message
    assert lab.kube_start_cancelled


async def test_a_pod_that_gets_a_node_starts_as_kubespawner_starts_it(
    lab: ProfileSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KubeSpawner, "_start", kube_start_taking(1.5))
    show(lab, UNSCHEDULABLE)
    asyncio.get_running_loop().call_later(0.5, show, lab, SCHEDULED)
    assert await lab._start_pod() == ("10.0.0.7", 8888)


async def test_kubespawners_own_failure_is_not_replaced(
    lab: ProfileSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KubeSpawner, "_start", kube_start_taking(0.1, TimeoutError("pod gone")))
    show(lab, UNSCHEDULABLE)
    with pytest.raises(TimeoutError, match="pod gone"):
        await lab._start_pod()


async def test_no_grace_waits_for_kubespawner_alone(
    lab: ProfileSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.unschedulable_timeout = 0
    monkeypatch.setattr(KubeSpawner, "_start", kube_start_taking(1.5))
    show(lab, UNSCHEDULABLE)
    assert await lab._start_pod() == ("10.0.0.7", 8888)


async def test_the_grace_comes_from_the_chart_values(chart_values: dict) -> None:
    chart_values["singleuser"]["unschedulableTimeout"] = 240
    assert make_spawner(chart_values, hub_user("lena", [])).unschedulable_timeout == 240

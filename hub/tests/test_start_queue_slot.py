"""A start's slot in the line of starts: held until the start ends, whoever stops what.

KubeSpawner stops a stale pod of the lab's name itself, inside its start (a 409 to its create);
that stop is part of the start and must not free the slot while the new pod is still starting.
A stop from the hub, during the start, gives the slot up.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    chart_values_fixture,
    hub_user,
    make_spawner,
    offline_kubeconfig_fixture,
)
from kubespawner import KubeSpawner

from hubconfig.spawner import ProfileSpawner
from hubconfig.start_queue import StartQueue

pytestmark = pytest.mark.usefixtures("offline_kubeconfig")

ADDRESS = ("10.0.0.7", 8888)


@pytest.fixture
async def lab(chart_values: dict, monkeypatch: pytest.MonkeyPatch) -> ProfileSpawner:
    """A spawner in a line of one slot, holding it, whose KubeSpawner stop deletes nothing."""

    async def kube_stop(self: KubeSpawner, now: bool = False) -> None:
        self.kube_stops += 1

    monkeypatch.setattr(KubeSpawner, "stop", kube_stop)
    spawner = make_spawner(chart_values, hub_user("lena", []))
    spawner.kube_stops = 0
    spawner.unschedulable_timeout = 0
    spawner.listen_poll_interval = 0
    spawner.start_queue = StartQueue(1)
    await spawner.start_queue.wait_turn(spawner)
    return spawner


async def test_kubespawners_own_stop_inside_the_start_keeps_the_slot(
    lab: ProfileSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    held_after_stop = []

    async def kube_start(self: ProfileSpawner) -> Any:
        await self.stop(True)  # as KubeSpawner does on a 409 from the pod's create
        held_after_stop.append(self.start_queue.holds(self))
        return ADDRESS

    monkeypatch.setattr(KubeSpawner, "_start", kube_start)
    assert await asyncio.ensure_future(lab._start()) == ADDRESS
    assert lab.kube_stops == 1
    assert held_after_stop == [True]
    assert not lab.start_queue.holds(lab)


async def test_a_stop_from_the_hub_during_the_start_gives_the_slot_up(
    lab: ProfileSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def kube_start(self: ProfileSpawner) -> Any:
        await asyncio.sleep(30)

    monkeypatch.setattr(KubeSpawner, "_start", kube_start)
    start = asyncio.ensure_future(lab._start())
    await asyncio.sleep(0.05)
    assert lab.start_queue.holds(lab)
    await lab.stop(True)
    assert not lab.start_queue.holds(lab)
    start.cancel()
    await asyncio.gather(start, return_exceptions=True)

"""`hub.concurrentSpawnLimit` through JupyterHub itself: a start over the limit is refused at once.

helm/README.md promises a lecture that the start over the limit gets JupyterHub's 429 "Too many
users trying to log in right now" straight away instead of a place in a queue that nothing keeps.
The hub is real; the first start is held pending until the test lets it finish.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import requests
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    chart_values_fixture,
    offline_kubeconfig_fixture,
)
from hub_in_process import SERVICE_TOKEN, HubUnderTest, running_hub
from podless_spawner import PodlessProfileSpawner

# JupyterHub's REST API answers a pending start after its slow_spawn_timeout (10 s); the refusal
# must come well before that to be "at once".
AT_ONCE_S = 5


# KubeSpawner loads a kubeconfig when a spawner is made; the machine may have none.
pytestmark = pytest.mark.usefixtures("offline_kubeconfig")


@pytest.fixture
async def hub(chart_values: dict) -> AsyncIterator[HubUnderTest]:
    chart_values["hub"]["concurrentSpawnLimit"] = 1
    async with running_hub(chart_values, {"students": ["ann", "bob"]}) as running:
        yield running


async def test_the_start_over_the_limit_is_told_to_come_back_not_queued(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    podless_start = PodlessProfileSpawner.start

    async def held_start(self: PodlessProfileSpawner) -> Any:
        entered.set()
        await release.wait()
        return await podless_start(self)

    monkeypatch.setattr(PodlessProfileSpawner, "start", held_start)
    # Not through hub.api: its one request thread would hold bob's request behind ann's.
    first = asyncio.ensure_future(
        asyncio.to_thread(
            requests.post,
            hub.url("api/users/ann/server"),
            headers={"Authorization": f"token {SERVICE_TOKEN}"},
            timeout=60,
        )
    )
    await asyncio.wait_for(entered.wait(), timeout=30)
    assert hub.app.users["ann"].spawner.pending == "spawn"
    asked = time.monotonic()
    over = await hub.api("POST", "/users/bob/server")
    assert time.monotonic() - asked < AT_ONCE_S
    assert over.status_code == 429, over.text
    assert "Too many users trying to log in right now" in over.json()["message"]
    assert not hub.app.users["bob"].spawner.pending
    release.set()
    assert (await first).status_code in (201, 202)
    # The limit counts pending starts only: once ann's has finished, bob may start.
    assert (await hub.api("POST", "/users/bob/server")).status_code in (201, 202)

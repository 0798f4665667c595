"""`hub.concurrentStarts` through JupyterHub itself: starts beyond the slots wait in line, told
their place on the progress stream, and their wait is not counted toward startTimeout.

One slot; each start is held by the test for HOLD_S, under START_TIMEOUT_S, so the third in
line waits about twice HOLD_S, longer than START_TIMEOUT_S, and must still start.
"""

from __future__ import annotations

import asyncio
import json
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

from hubconfig import start_queue

START_TIMEOUT_S = 3
HOLD_S = 2.0
WAIT_S = 30
HEADERS = {"Authorization": f"token {SERVICE_TOKEN}"}

pytestmark = pytest.mark.usefixtures("offline_kubeconfig")


@pytest.fixture
async def hub(chart_values: dict, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HubUnderTest]:
    chart_values["hub"]["concurrentStarts"] = 1
    chart_values["singleuser"]["startTimeout"] = START_TIMEOUT_S
    monkeypatch.setattr(start_queue, "POSITION_POLL_S", 0.05)
    async with running_hub(chart_values, {"students": ["ann", "bob", "cem"]}) as running:
        yield running


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def progress_until_place(hub: HubUnderTest, user: str, place: int) -> list[dict[str, Any]]:
    """The user's progress events, read as the spawn page reads them, up to the one that says
    they are number `place` in line."""
    events = []
    with requests.get(
        hub.url(f"api/users/{user}/server/progress"), headers=HEADERS, stream=True, timeout=WAIT_S
    ) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                events.append(json.loads(line.removeprefix("data:")))
                if f"you are number {place} in line" in events[-1].get("message", ""):
                    return events
    return events


async def test_starts_beyond_the_slot_wait_their_turn_in_order_told_their_place(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered: dict[str, float] = {}
    podless_start_pod = PodlessProfileSpawner._start_pod

    async def held_start_pod(self: PodlessProfileSpawner) -> Any:
        entered[self.user.name] = time.monotonic()
        await asyncio.sleep(HOLD_S)
        return await podless_start_pod(self)

    monkeypatch.setattr(PodlessProfileSpawner, "_start_pod", held_start_pod)
    queue = hub.spawner("ann").start_queue
    asked: dict[str, float] = {}
    posts = {}
    for user in ("ann", "bob", "cem"):
        asked[user] = time.monotonic()
        # Not through hub.api: its one request thread would hold each request behind the last.
        posts[user] = asyncio.ensure_future(
            asyncio.to_thread(
                requests.post, hub.url(f"api/users/{user}/server"), headers=HEADERS, timeout=WAIT_S
            )
        )
        spawner = hub.spawner(user)
        await until(
            lambda user=user, spawner=spawner: user in entered or queue.position(spawner),
            f"{user} neither started nor stood in line",
        )
    assert list(entered) == ["ann"]
    assert (queue.position(hub.spawner("bob")), queue.position(hub.spawner("cem"))) == (1, 2)

    events = await asyncio.to_thread(progress_until_place, hub, "cem", 1)
    messages = [event.get("message", "") for event in events]
    assert any("you are number 2 in line (one lab starts at a time)" in m for m in messages)
    assert "you are number 1 in line" in messages[-1]

    for user in ("ann", "bob", "cem"):
        response = await posts[user]
        assert response.status_code in (201, 202), (user, response.text)
    for user in ("ann", "bob", "cem"):
        await until(lambda user=user: hub.spawner(user).ready, f"{user}'s lab never ran")
    assert list(entered) == ["ann", "bob", "cem"]
    # cem stood in line longer than a start may take, and was not counted as slow.
    assert entered["cem"] - asked["cem"] > START_TIMEOUT_S
    assert hub.app.tornado_settings.get("failure_count", 0) == 0

"""A second server waiting for a home attached on another node is told why, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    chart_values_fixture,
    hub_user,
    make_spawner,
    offline_kubeconfig_fixture,
)
from kubespawner import KubeSpawner

from hubconfig.storage import MULTI_ATTACH_HINT

pytestmark = pytest.mark.usefixtures("offline_kubeconfig")

# As KubeSpawner shows the attach-detach controller's event on the progress page.
MULTI_ATTACH_EVENT = (
    "2026-12-01T18:00:00Z [Warning] Multi-Attach error for volume "
    '"pvc-2f0c" Volume is already used by pod(s) jupyter-anna--gpu'
)


async def messages(
    chart_values: dict, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> list[str]:
    async def kubernetes_events(self: KubeSpawner) -> AsyncIterator[dict[str, Any]]:
        for number, message in enumerate(events):
            yield {"progress": 10 + number, "message": message}

    monkeypatch.setattr(KubeSpawner, "progress", kubernetes_events)
    spawner = make_spawner(chart_values, hub_user("anna", []), name="cpu")
    await spawner.check_and_apply({})
    shown = [event["message"] async for event in spawner.progress()]
    # After the chart's own first line (singleuser.slowSpawnMessage).
    assert shown[0].startswith("Starting Python lab")
    return shown[1:]


async def test_a_multi_attach_wait_is_explained_once(
    chart_values: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = ["Pulling image", MULTI_ATTACH_EVENT, MULTI_ATTACH_EVENT]
    shown = await messages(chart_values, monkeypatch, events)
    assert shown == ["Pulling image", MULTI_ATTACH_EVENT, MULTI_ATTACH_HINT, MULTI_ATTACH_EVENT]
    assert "Stop your other server" in MULTI_ATTACH_HINT


async def test_other_events_get_no_hint(
    chart_values: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = ["Pulling image", "Started container notebook"]
    assert await messages(chart_values, monkeypatch, events) == events

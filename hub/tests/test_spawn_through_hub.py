"""Spawns through JupyterHub itself: its REST API, spawn page and User.spawn keep options, pass
them again and call the ProfileSpawner; these tests hold the spawner to what it sees there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from hub_fakes import chart_values_fixture  # noqa: F401 - pytest fixtures, used by name
from hub_in_process import HubUnderTest, running_hub

GROUPS = {
    "course-moodle.nlp-101": ["stu", "gpu-student"],
    "gpu": ["gpu-student", "grace"],
    "students": ["sam"],
}
WAIT_S = 10


@pytest.fixture
async def hub(chart_values: dict) -> AsyncIterator[HubUnderTest]:
    async with running_hub(chart_values, GROUPS) as running:
        yield running


async def wait_for_servers(hub: HubUnderTest, user: str, expected: dict[str, bool]) -> None:
    """Until the user's servers are `expected` ({name: ready}), as the REST API reports them."""
    deadline = time.monotonic() + WAIT_S
    while True:
        servers = (await hub.api("GET", f"/users/{user}")).json()["servers"]
        if {name: server["ready"] for name, server in servers.items()} == expected:
            return
        assert time.monotonic() < deadline, f"{user}'s servers are {servers}, not {expected}"
        await asyncio.sleep(0.1)


async def start(hub: HubUnderTest, user: str, options: dict | None = None) -> None:
    """Start `user`'s server through the REST API (no body when `options` is None)."""
    started = await hub.api("POST", f"/users/{user}/server", json=options)
    assert started.status_code in (201, 202), started.text
    await wait_for_servers(hub, user, {"": True})


async def stop(hub: HubUnderTest, user: str) -> None:
    stopped = await hub.api("DELETE", f"/users/{user}/server")
    assert stopped.status_code in (202, 204), stopped.text
    await wait_for_servers(hub, user, {})


async def refused(hub: HubUnderTest, user: str, options: dict) -> tuple[int, str]:
    response = await hub.api("POST", f"/users/{user}/server", json=options)
    return response.status_code, response.json()["message"]


async def open_from_course(hub: HubUnderTest, user: str, course_key: str) -> None:
    """A launch from the course's Moodle link: the course is recorded, then the user's browser
    lands on the spawn page without options."""
    browser = await hub.login(user)
    await hub.launch_from_course(user, course_key)
    page = await browser.get(hub.url("spawn"), allow_redirects=False)
    assert page.status_code == 302, page.text
    await wait_for_servers(hub, user, {"": True})


async def test_course_launch_after_a_refused_forgery_opens_the_course_lab(
    hub: HubUnderTest,
) -> None:
    status, _ = await refused(hub, "stu", {"profile": "gpu", "gpus": 2})
    assert status == 403
    assert hub.stored_options("stu") == {}
    await open_from_course(hub, "stu", "moodle/nlp-101")
    assert hub.spawner("stu").image == "example/lab-nlp:7"


async def test_refused_options_are_not_reused_by_a_plain_spawn(hub: HubUnderTest) -> None:
    status, _ = await refused(hub, "sam", {"profile": "gpu"})
    assert status == 403
    await start(hub, "sam")
    assert hub.spawner("sam").extra_resource_limits == {}
    assert hub.spawner("sam").gpus_held == 0


async def test_course_launch_opens_the_course_lab_not_the_last_gpu_choice(
    hub: HubUnderTest,
) -> None:
    browser = await hub.login("gpu-student")
    form = {"profile": "gpu", "profile-option-gpu--gpus": "1", "_xsrf": browser.cookies["_xsrf"]}
    posted = await browser.post(hub.url("spawn"), data=form, allow_redirects=False)
    assert posted.status_code == 302, posted.text
    await wait_for_servers(hub, "gpu-student", {"": True})
    assert hub.spawner("gpu-student").gpus_held == 1
    await stop(hub, "gpu-student")
    await open_from_course(hub, "gpu-student", "moodle/nlp-101")
    spawner = hub.spawner("gpu-student")
    assert spawner.image == "example/lab-nlp:7"
    assert (spawner.gpus_held, spawner.extra_resource_limits) == (0, {})


async def test_options_given_with_a_course_login_are_still_honoured(hub: HubUnderTest) -> None:
    await hub.launch_from_course("gpu-student", "moodle/nlp-101")
    await start(hub, "gpu-student", {"profile": "gpu", "gpus": 1})
    spawner = hub.spawner("gpu-student")
    assert spawner.gpus_held == 1
    assert spawner.extra_resource_limits == {"nvidia.com/gpu": "1"}


@pytest.mark.parametrize(
    "forged",
    [
        {"profile": "cpu", "gpus": "²"},
        {"profile": "cpu", "gpus": -1},
        {"profile": "gpu", "gpus": "9" * 5000},
    ],
)
async def test_bad_gpu_counts_are_refused_and_not_reused(hub: HubUnderTest, forged: dict) -> None:
    status, _ = await refused(hub, "grace", forged)
    assert status == 400
    assert hub.stored_options("grace") == {}
    assert hub.spawner("grace").gpus_held == 0
    await start(hub, "grace")
    spawner = hub.spawner("grace")
    assert (spawner.gpus_held, spawner.extra_resource_limits) == (0, {})


async def test_options_are_dropped_whatever_the_check_raises(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ValueError("a bug in a check")

    monkeypatch.setattr("hubconfig.user_options.select", broken)
    # JupyterHub answers any other exception of the hook with 400 "Invalid user options".
    assert await refused(hub, "grace", {"profile": "cpu"}) == (400, "Invalid user options")
    assert hub.stored_options("grace") == {}
    assert hub.spawner("grace").user_options == {}

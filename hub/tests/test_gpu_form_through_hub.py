"""The spawn form of a real JupyterHub offers GPU types with what is free and what the user may
still take, and refuses forged GPU types from the form and the REST API without starting."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator

import pytest
from gpu_cluster import GPU_TYPES, TYPED_GPU_PROFILE, serving_api
from hub_fakes import PROFILES, values_with
from hub_in_process import HubUnderTest, running_hub
from test_spawn_through_hub import stop, wait_for_servers

from hubconfig import kube_api
from hubconfig.gpu_availability import GpuAvailability

GROUPS = {"gpu": ["gina"], "students": ["sam"]}
# NVIDIA's time-slicing refuses a pod that asks for more than one replica.
T4_ONE_AT_A_TIME = GPU_TYPES["t4-shared"] | {"maxPerLab": 1}


def gpu_values() -> dict:
    return values_with(
        {
            "singleuser": {
                "gpu": {"types": GPU_TYPES | {"t4-shared": T4_ONE_AT_A_TIME}},
                "gpuQuota": {"perUser": 1, "perResource": {"nvidia.com/mig-1g.10gb": 2}},
                "profileList": [PROFILES[0], TYPED_GPU_PROFILE],
            }
        }
    )


@pytest.fixture
def api_url() -> Iterator[str]:
    with serving_api() as (url, _):
        yield url


@pytest.fixture
async def hub(api_url: str) -> AsyncIterator[HubUnderTest]:
    reader = GpuAvailability(kube_api.json_reader(api_url))
    async with running_hub(gpu_values(), GROUPS, spawner_traits={"gpu_availability": reader}) as up:
        yield up


async def spawn_page(hub: HubUnderTest, user: str, path: str = "spawn") -> str:
    browser = await hub.login(user)
    page = await browser.get(hub.url(path))
    assert page.status_code == 200, page.text
    return html.unescape(page.text)


async def test_the_form_shows_free_gpus_and_the_quota_left(hub: HubUnderTest) -> None:
    page = await spawn_page(hub, "gina")
    assert 'name="profile-option-gpu--gpu_type"' in page
    assert "NVIDIA A100 80GB: 1 of 2 free now; you may take 1 more" in page
    assert "A100 MIG slice 1g.10gb: 5 of 7 free now; you may take 2 more. A seventh" in page
    assert "NVIDIA T4, time-sliced: 1 of 4 free now; you may take 1 more; at most 1 per lab" in page


async def test_two_of_a_one_at_a_time_type_from_the_form_start_nothing(hub: HubUnderTest) -> None:
    browser = await hub.login("gina")
    form = {
        "profile": "gpu",
        "profile-option-gpu--gpu_type": "t4-shared",
        "profile-option-gpu--gpus": "2",
        "_xsrf": browser.cookies["_xsrf"],
    }
    posted = await browser.post(hub.url("spawn"), data=form, allow_redirects=False)
    assert posted.status_code == 400, posted.text
    assert (
        "The GPU type 't4-shared' (NVIDIA T4, time-sliced) gives at most 1 GPU per lab; "
        "2 were requested."
    ) in html.unescape(posted.text)
    assert (await hub.api("GET", "/users/gina")).json()["servers"] == {}
    assert hub.stored_options("gina") == {}


async def test_two_of_a_one_at_a_time_type_through_the_api_start_nothing(
    hub: HubUnderTest,
) -> None:
    await hub.api("POST", "/users/gina")
    response = await hub.api(
        "POST", "/users/gina/server", json={"profile": "gpu", "gpu_type": "t4-shared", "gpus": 2}
    )
    assert response.status_code == 400, response.text
    assert (
        "'t4-shared' (NVIDIA T4, time-sliced) gives at most 1 GPU per lab"
        in (response.json()["message"])
    )
    assert (await hub.api("GET", "/users/gina")).json()["servers"] == {}


async def test_what_a_running_lab_holds_lowers_the_quota_left(hub: HubUnderTest) -> None:
    browser = await hub.login("gina")
    form = {
        "profile": "gpu",
        "profile-option-gpu--gpu_type": "mig-1g-10gb",
        "profile-option-gpu--gpus": "1",
        "_xsrf": browser.cookies["_xsrf"],
    }
    posted = await browser.post(hub.url("spawn"), data=form, allow_redirects=False)
    assert posted.status_code == 302, posted.text
    await wait_for_servers(hub, "gina", {"": True})
    spawner = hub.spawner("gina")
    assert spawner.extra_resource_limits == {"nvidia.com/mig-1g.10gb": "1"}
    assert (spawner.gpus_held, spawner.gpu_resource_held) == (1, "nvidia.com/mig-1g.10gb")
    page = html.unescape((await browser.get(hub.url("spawn/gina/second"))).text)
    assert "A100 MIG slice 1g.10gb: 5 of 7 free now; you may take 1 more" in page
    # A slice held does not use up the quota of whole GPUs.
    assert "NVIDIA A100 80GB: 1 of 2 free now; you may take 1 more" in page
    await stop(hub, "gina")


@pytest.mark.parametrize(
    ("gpu_type", "status"), [("h100", 400), ("mig-1g-10gb--unlisted-choice", 400)]
)
async def test_a_forged_gpu_type_in_the_form_starts_nothing(
    hub: HubUnderTest, gpu_type: str, status: int
) -> None:
    browser = await hub.login("gina")
    form = {
        "profile": "gpu",
        "profile-option-gpu--gpu_type": gpu_type,
        "_xsrf": browser.cookies["_xsrf"],
    }
    posted = await browser.post(hub.url("spawn"), data=form, allow_redirects=False)
    assert posted.status_code == status, posted.text
    assert "There is no GPU type named" in html.unescape(posted.text)
    assert (await hub.api("GET", "/users/gina")).json()["servers"] == {}
    assert hub.stored_options("gina") == {}


@pytest.mark.parametrize(
    ("user", "options", "status", "message"),
    [
        ("gina", {"profile": "gpu", "gpu_type": "h100"}, 400, "There is no GPU type named 'h100'"),
        ("gina", {"profile": "gpu", "gpu_type": 7}, 400, "must be given by its name"),
        ("gina", {"profile": "cpu", "gpu_type": "a100"}, 403, "has no GPUs"),
        ("sam", {"profile": "gpu", "gpu_type": "a100"}, 403, "only for members of: gpu"),
    ],
)
async def test_a_forged_gpu_type_through_the_api_starts_nothing(
    hub: HubUnderTest, user: str, options: dict, status: int, message: str
) -> None:
    await hub.api("POST", f"/users/{user}")
    response = await hub.api("POST", f"/users/{user}/server", json=options)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert (await hub.api("GET", f"/users/{user}")).json()["servers"] == {}


async def test_without_availability_the_form_says_unknown() -> None:
    values = gpu_values()
    values["singleuser"]["gpu"]["availability"]["enabled"] = False
    async with running_hub(values, GROUPS) as hub:
        page = await spawn_page(hub, "gina")
    assert "NVIDIA A100 80GB: availability unknown; you may take 1 more" in page


async def test_an_api_that_refuses_leaves_the_form_working() -> None:
    reader = GpuAvailability(kube_api.json_reader("http://127.0.0.1:9"))
    async with running_hub(
        gpu_values(), GROUPS, spawner_traits={"gpu_availability": reader}
    ) as hub:
        page = await spawn_page(hub, "gina")
    assert "NVIDIA T4, time-sliced: availability unknown; you may take 1 more" in page

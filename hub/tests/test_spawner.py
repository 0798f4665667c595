"""ProfileSpawner: the per-user form, the checks before a pod exists, and what the pod gets."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    FakeServer,
    chart_values_fixture,
    hub_user,
    make_spawner,
    offline_kubeconfig_fixture,
)

from hubconfig.refusals import SpawnRefused

# Fixtures imported above; KubeSpawner loads a kubeconfig when constructed.
pytestmark = pytest.mark.usefixtures("offline_kubeconfig")


async def test_form_lists_only_allowed_profiles(chart_values: dict) -> None:
    spawner = make_spawner(chart_values, hub_user("stu", ["course-moodle.nlp-101"]))
    form = await spawner.get_options_form()
    assert 'value="cpu"' in form
    assert 'value="nlp"' in form
    assert 'value="gpu"' not in form


def form_profiles(form: str) -> tuple[list[str], list[str]]:
    """The profiles a rendered spawn form offers, and those it preselects."""
    inputs = re.findall(r'<input type="radio"\s+name="profile"[^>]*>', form)
    offered = [re.search(r'value="([^"]+)"', tag).group(1) for tag in inputs]
    checked = [slug for slug, tag in zip(offered, inputs, strict=True) if "checked" in tag]
    return offered, checked


async def test_the_form_is_computed_per_user(chart_values: dict) -> None:
    chart_values["singleuser"]["skipFormForCourses"] = False
    student = make_spawner(
        chart_values, hub_user("stu", ["course-moodle.nlp-101"], course="moodle/nlp-101")
    )
    teacher = make_spawner(chart_values, hub_user("ines", ["instructor"]))
    assert form_profiles(await student.get_options_form()) == (["cpu", "nlp"], ["nlp"])
    assert form_profiles(await teacher.get_options_form()) == (["cpu", "nlp", "gpu"], ["cpu"])


async def test_the_course_is_read_once_per_request(
    chart_values: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = hub_user("stu", ["course-moodle.nlp-101"], course="moodle/nlp-101")
    spawner = make_spawner(chart_values, user)
    reads: list[str] = []
    read_auth_state = user.get_auth_state

    async def counted() -> dict | None:
        reads.append("auth_state")
        return await read_auth_state()

    monkeypatch.setattr(user, "get_auth_state", counted)
    await spawner.get_options_form()
    await spawner.check_and_apply({})
    assert reads == ["auth_state", "auth_state"]


async def test_user_without_profiles_gets_a_clear_page(chart_values: dict) -> None:
    for profile in chart_values["singleuser"]["profileList"]:
        profile["allowedGroups"] = ["staff"]
    spawner = make_spawner(chart_values, hub_user("stu", []))
    with pytest.raises(SpawnRefused) as refused:
        await spawner.get_options_form()
    assert refused.value.status_code == 403
    assert refused.value.jupyterhub_message.startswith("No lab profile is available")


async def test_course_launch_skips_the_form(chart_values: dict) -> None:
    spawner = make_spawner(
        chart_values, hub_user("stu", ["course-moodle.nlp-101"], course="moodle/nlp-101")
    )
    assert await spawner.get_options_form() == ""
    await spawner.check_and_apply({})
    assert spawner.image == "example/lab-nlp:7"


async def test_course_launch_shows_the_form_when_asked_to(chart_values: dict) -> None:
    chart_values["singleuser"]["skipFormForCourses"] = False
    spawner = make_spawner(
        chart_values, hub_user("stu", ["course-moodle.nlp-101"], course="moodle/nlp-101")
    )
    assert 'value="nlp"' in await spawner.get_options_form()


async def test_gpu_profile_sets_resources_scheduling_and_shm(chart_values: dict) -> None:
    spawner = make_spawner(chart_values, hub_user("grace", ["gpu"]))
    await spawner.check_and_apply({"profile": "gpu", "gpus": "2"})
    assert spawner.image == "jupyterhub-k8s/lab-base:latest"
    assert (spawner.cpu_guarantee, spawner.cpu_limit) == (1, 8)
    assert (spawner.mem_guarantee, spawner.mem_limit) == (8 * 1024**3, 16 * 1024**3)
    assert spawner.extra_resource_limits == {"nvidia.com/gpu": "2"}
    assert spawner.node_selector == {"pool": "labs", "nvidia.com/gpu.present": "true"}
    assert spawner.tolerations == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}} in spawner.volumes
    assert {"name": "dshm", "mountPath": "/dev/shm"} in spawner.volume_mounts  # noqa: S108
    assert (spawner.start_timeout, spawner.http_timeout) == (900, 240)
    assert spawner.gpus_held == 2


async def test_respawn_with_a_cpu_profile_drops_the_gpu_settings(chart_values: dict) -> None:
    spawner = make_spawner(chart_values, hub_user("grace", ["gpu"]))
    await spawner.check_and_apply({"profile": "gpu"})
    await spawner.load_user_options()
    await spawner.check_and_apply({"profile": "cpu"})
    assert spawner.extra_resource_limits == {}
    assert spawner.node_selector == {"pool": "labs"}
    assert spawner.tolerations == []
    assert spawner.volumes == [{"name": "home", "emptyDir": {}}]
    assert spawner.gpus_held == 0
    assert (spawner.start_timeout, spawner.http_timeout) == (300, 120)


async def test_a_profile_that_sets_less_gets_the_configured_values_again(
    chart_values: dict,
) -> None:
    spawner = make_spawner(chart_values, hub_user("ines", ["instructor"]))
    configured = (spawner.image, spawner.cpu_guarantee, spawner.mem_guarantee)
    await spawner.check_and_apply({"profile": "cpu"})
    assert (spawner.cpu_guarantee, spawner.mem_guarantee) == (0.5, 1024**3)
    await spawner.check_and_apply({"profile": "nlp"})
    assert spawner.image == "example/lab-nlp:7"
    await spawner.check_and_apply({"profile": "gpu"})
    assert spawner.image == configured[0]
    await spawner.check_and_apply({"profile": "nlp"})
    assert (spawner.image, spawner.cpu_guarantee, spawner.mem_guarantee) == (
        "example/lab-nlp:7",
        *configured[1:],
    )


@pytest.mark.parametrize(
    ("options", "status"),
    [
        ({"profile": "gpu"}, 403),
        ({"profile": "cpu", "gpus": 1}, 403),
        ({"profile": "cpu", "image": "evil/miner"}, 400),
        ({"profile": "nope"}, 400),
    ],
)
async def test_refused_request_changes_nothing_and_cannot_start(
    chart_values: dict, options: dict[str, Any], status: int
) -> None:
    spawner = make_spawner(chart_values, hub_user("stu", ["students"]))
    before = {name: getattr(spawner, name) for name in ("image", "cpu_limit", "volumes")}
    with pytest.raises(SpawnRefused) as refused:
        await spawner._run_apply_user_options(options)
    assert refused.value.status_code == status
    assert {name: getattr(spawner, name) for name in before} == before
    # KubeSpawner's start begins with load_user_options: without a checked request, no pod.
    with pytest.raises(SpawnRefused, match="options were not checked"):
        await spawner.load_user_options()


async def test_gpu_quota_counts_the_users_other_servers(chart_values: dict) -> None:
    user = hub_user("grace", ["instructor"])
    user.spawners["train"] = FakeServer("train", 2)
    spawner = make_spawner(chart_values, user, name="eval")
    with pytest.raises(SpawnRefused, match="You already hold 2 GPU\\(s\\) in: server 'train'"):
        await spawner.check_and_apply({"profile": "gpu", "gpus": 1})
    assert spawner.gpus_held == 0
    await spawner.check_and_apply({"profile": "cpu"})


async def test_gpus_held_survive_a_hub_restart(chart_values: dict) -> None:
    spawner = make_spawner(chart_values, hub_user("grace", ["gpu"]))
    await spawner.check_and_apply({"profile": "gpu", "gpus": 1})
    state = spawner.get_state()
    restored = make_spawner(chart_values, hub_user("grace", ["gpu"]))
    restored.load_state(state)
    assert (restored.gpus_held, restored.gpu_resource_held) == (1, "nvidia.com/gpu")
    restored.clear_state()
    assert (restored.gpus_held, restored.gpu_resource_held) == (0, "")


async def test_state_of_older_hubs_holds_the_old_default_resource(chart_values: dict) -> None:
    # Servers started before the resource was recorded keep their GPUs counted as nvidia.com/gpu,
    # the only resource those hubs handed out.
    user = hub_user("grace", ["gpu"])
    old = make_spawner(chart_values, user, name="old")
    old.load_state({"gpus": 2})
    assert (old.gpus_held, old.gpu_resource_held) == (2, "nvidia.com/gpu")
    spawner = make_spawner(chart_values, user, name="new")
    # Running, as the hub finds the old server after a restart (the starting one is left out).
    running = mock.patch.object(
        type(old), "active", new_callable=mock.PropertyMock, return_value=True
    )
    with (
        running,
        pytest.raises(SpawnRefused, match="You already hold 2 GPU\\(s\\) in: server 'old'"),
    ):
        await spawner.check_and_apply({"profile": "gpu", "gpus": 1})


async def test_progress_starts_with_the_slow_spawn_message(chart_values: dict) -> None:
    spawner = make_spawner(chart_values, hub_user("grace", ["gpu"]))
    await spawner.check_and_apply({"profile": "gpu"})
    progress = spawner.progress()
    first = await anext(progress)
    await progress.aclose()
    assert first == {"progress": 1, "message": "Starting GPU lab within 900s"}


@pytest.mark.parametrize("stored", [-1, "2", True, 1.5, None])
async def test_unusable_stored_gpus_count_as_none_held(chart_values: dict, stored: object) -> None:
    user = hub_user("grace", ["gpu"])
    other = make_spawner(chart_values, user, name="old")
    other.load_state({"gpus": stored})
    assert other.gpus_held == 0


async def test_the_same_course_id_on_another_platform_is_another_course(chart_values: dict) -> None:
    # courseProfiles maps moodle/nlp-101; a second Moodle's course nlp-101 is not that course.
    user = hub_user("ines", ["instructor"], course="moodle-archive/nlp-101")
    spawner = make_spawner(chart_values, user)
    assert form_profiles(await spawner.get_options_form()) == (["cpu", "nlp", "gpu"], ["cpu"])


@pytest.mark.parametrize(
    "course",
    [
        "moodle/nlp-101",
        ["moodle/nlp-101"],
        {"context_id": "nlp-101"},
        {"key": ["moodle/nlp-101"]},
        {"key": ""},
    ],
)
async def test_a_course_without_a_usable_key_is_no_course(
    chart_values: dict, course: object
) -> None:
    # Logins before course keys recorded only the context_id; the next LTI launch records the key.
    user = hub_user("stu", ["course-moodle.nlp-101"])
    user.auth_state = {"login_source": "lti13", "course": course}
    spawner = make_spawner(chart_values, user)
    assert 'value="nlp"' in await spawner.get_options_form()
    await spawner.check_and_apply({})
    assert spawner.image == "jupyterhub-k8s/lab-base:latest"

"""Profiles per user: filtering by group, the preselected profile, the form's entries."""

from __future__ import annotations

import copy

import pytest
from hub_fakes import chart_values_fixture  # noqa: F401 - pytest fixtures, used by name

from hubconfig.profiles import ProfileCatalogue, form_entries
from hubconfig.values import ValuesError


@pytest.fixture
def catalogue(chart_values: dict) -> ProfileCatalogue:
    return ProfileCatalogue.from_values(chart_values["singleuser"])


def slugs(profiles: list) -> list[str]:
    return [profile.slug for profile in profiles]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (set(), ["cpu"]),
        ({"course-moodle.nlp-101"}, ["cpu", "nlp"]),
        ({"gpu"}, ["cpu", "gpu"]),
        ({"instructor"}, ["cpu", "nlp", "gpu"]),
        ({"course-other", "students"}, ["cpu"]),
    ],
)
def test_allowed_profiles_follow_groups(
    catalogue: ProfileCatalogue, groups: set[str], expected: list[str]
) -> None:
    assert slugs(catalogue.offer(groups, None).allowed) == expected


def test_a_profile_overrides_only_what_it_sets(catalogue: ProfileCatalogue) -> None:
    cpu, nlp, gpu = catalogue.profiles
    assert cpu.kubespawner_override == {
        "cpu_guarantee": 0.5,
        "cpu_limit": 2,
        "mem_guarantee": 1024**3,
        "mem_limit": 4 * 1024**3,
    }
    assert nlp.kubespawner_override == {
        "cpu_limit": 4,
        "mem_limit": 8 * 1024**3,
        "image": "example/lab-nlp:7",
        "image_pull_policy": "IfNotPresent",
    }
    assert (
        gpu.kubespawner_override["start_timeout"],
        gpu.kubespawner_override["http_timeout"],
    ) == (
        900,
        240,
    )
    assert gpu.gpus == 2


def test_gpus_add_their_resource_scheduling_and_shared_memory(
    catalogue: ProfileCatalogue,
) -> None:
    assert catalogue.gpu.kubespawner_override(0) == {}
    override = catalogue.gpu.kubespawner_override(2)
    assert override["extra_resource_limits"] == {"nvidia.com/gpu": "2"}
    assert override["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert override["volumes"] == [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}
    ]


def test_the_catalogue_is_shared_not_copied(catalogue: ProfileCatalogue) -> None:
    # traitlets deep-copies configured values into each spawner.
    assert copy.deepcopy(catalogue) is catalogue


def test_digest_wins_over_tag(chart_values: dict) -> None:
    digest = "sha256:" + "a" * 64
    chart_values["singleuser"]["images"]["lab-nlp"]["digest"] = digest
    nlp = ProfileCatalogue.from_values(chart_values["singleuser"]).by_slug("nlp")
    assert nlp.kubespawner_override["image"] == f"example/lab-nlp@{digest}"


def test_unknown_image_key_is_a_values_error(chart_values: dict) -> None:
    chart_values["singleuser"]["profileList"][1]["image"] = "lab-missing"
    with pytest.raises(
        ValuesError, match=r"profileList\[1\]\.image: unknown image key 'lab-missing'.*lab-nlp"
    ):
        ProfileCatalogue.from_values(chart_values["singleuser"])


def test_course_maps_to_its_profile(catalogue: ProfileCatalogue) -> None:
    offer = catalogue.offer({"course-moodle.nlp-101"}, "moodle/nlp-101")
    assert offer.course_profile.slug == offer.preselected.slug == "nlp"


def test_course_profile_the_user_may_not_use_is_ignored(catalogue: ProfileCatalogue) -> None:
    offer = catalogue.offer(set(), "moodle/nlp-101")
    assert offer.course_profile is None
    assert offer.preselected.slug == "cpu"


def test_without_course_the_default_profile_is_preselected(catalogue: ProfileCatalogue) -> None:
    assert catalogue.offer({"gpu"}, None).preselected.slug == "cpu"


def test_first_allowed_profile_when_the_default_is_not_allowed(chart_values: dict) -> None:
    chart_values["singleuser"]["profileList"][0]["allowedGroups"] = ["staff"]
    catalogue = ProfileCatalogue.from_values(chart_values["singleuser"])
    assert catalogue.offer({"gpu"}, None).preselected.slug == "gpu"


def test_form_entries_offer_gpu_counts_up_to_the_profile(catalogue: ProfileCatalogue) -> None:
    cpu, gpu = form_entries(catalogue.offer({"gpu"}, None))
    assert cpu["default"] is True
    assert "profile_options" not in cpu
    assert "kubespawner_override" not in gpu
    choices = gpu["profile_options"]["gpus"]["choices"]
    assert list(choices) == ["1", "2"]
    assert choices["2"]["default"] is True

"""Profiles per user: filtering by group, the preselected profile, the form's entries."""

from __future__ import annotations

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
    assert slugs(catalogue.allowed(groups)) == expected


def test_profile_data_is_filled_from_singleuser_defaults(catalogue: ProfileCatalogue) -> None:
    cpu, nlp, gpu = catalogue.profiles
    assert cpu.image == "jupyterhub-k8s/lab-base:latest"
    assert nlp.image == "example/lab-nlp:7"
    assert (cpu.start_timeout, cpu.http_timeout) == (300, 120)
    assert (gpu.start_timeout, gpu.http_timeout, gpu.gpus) == (900, 240, 2)
    assert (nlp.cpu_guarantee, nlp.mem_guarantee) == (None, None)


def test_digest_wins_over_tag(chart_values: dict) -> None:
    digest = "sha256:" + "a" * 64
    chart_values["singleuser"]["images"]["lab-nlp"]["digest"] = digest
    nlp = ProfileCatalogue.from_values(chart_values["singleuser"]).by_slug("nlp")
    assert nlp.image == f"example/lab-nlp@{digest}"


def test_unknown_image_key_is_a_values_error(chart_values: dict) -> None:
    chart_values["singleuser"]["profileList"][1]["image"] = "lab-missing"
    with pytest.raises(ValuesError, match=r"names image 'lab-missing'.*keys: lab-nlp"):
        ProfileCatalogue.from_values(chart_values["singleuser"])


def test_course_maps_to_its_profile(catalogue: ProfileCatalogue) -> None:
    allowed = catalogue.allowed({"course-moodle.nlp-101"})
    assert catalogue.preselected(allowed, "moodle/nlp-101").slug == "nlp"


def test_course_profile_the_user_may_not_use_is_ignored(catalogue: ProfileCatalogue) -> None:
    allowed = catalogue.allowed(set())
    assert catalogue.course_profile("moodle/nlp-101", allowed) is None
    assert catalogue.preselected(allowed, "moodle/nlp-101").slug == "cpu"


def test_without_course_the_default_profile_is_preselected(catalogue: ProfileCatalogue) -> None:
    allowed = catalogue.allowed({"gpu"})
    assert catalogue.preselected(allowed, None).slug == "cpu"


def test_first_allowed_profile_when_the_default_is_not_allowed(chart_values: dict) -> None:
    chart_values["singleuser"]["profileList"][0]["allowedGroups"] = ["staff"]
    catalogue = ProfileCatalogue.from_values(chart_values["singleuser"])
    allowed = catalogue.allowed({"gpu"})
    assert catalogue.preselected(allowed, None).slug == "gpu"


def test_form_entries_offer_gpu_counts_up_to_the_profile(catalogue: ProfileCatalogue) -> None:
    allowed = catalogue.allowed({"gpu"})
    cpu, gpu = form_entries(allowed, allowed[0])
    assert cpu["default"] is True
    assert "profile_options" not in cpu
    assert "kubespawner_override" not in gpu
    choices = gpu["profile_options"]["gpus"]["choices"]
    assert list(choices) == ["1", "2"]
    assert choices["2"]["default"] is True

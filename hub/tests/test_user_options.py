"""Every request the form or the REST API can send that the hub must refuse, and what it accepts."""

from __future__ import annotations

import pytest
from hub_fakes import chart_values_fixture  # noqa: F401 - pytest fixtures, used by name

from hubconfig.profiles import ProfileCatalogue
from hubconfig.refusals import SpawnRefused
from hubconfig.user_options import Selection, select


@pytest.fixture
def catalogue(chart_values: dict) -> ProfileCatalogue:
    return ProfileCatalogue.from_values(chart_values["singleuser"])


def select_for(
    catalogue: ProfileCatalogue, options: object, groups: set[str], course_key: str | None = None
) -> Selection:
    return select(options, catalogue.offer(groups, course_key))


def refusal(catalogue: ProfileCatalogue, options: object, groups: set[str]) -> SpawnRefused:
    with pytest.raises(SpawnRefused) as refused:
        select_for(catalogue, options, groups)
    return refused.value


@pytest.mark.parametrize("options", [{}, None, {"profile": ""}, {"profile": None}])
def test_no_choice_gets_the_preselected_profile(catalogue: ProfileCatalogue, options) -> None:
    selection = select_for(catalogue, options, {"gpu"})
    assert (selection.profile.slug, selection.gpus) == ("cpu", 0)


def test_no_choice_after_a_course_launch_gets_the_course_profile(
    catalogue: ProfileCatalogue,
) -> None:
    selection = select_for(catalogue, {}, {"course-moodle.nlp-101"}, "moodle/nlp-101")
    assert selection.profile.slug == "nlp"


def test_form_data_is_accepted(catalogue: ProfileCatalogue) -> None:
    selection = select_for(catalogue, {"profile": "gpu", "gpus": "1"}, {"gpu"})
    assert (selection.profile.slug, selection.gpus) == ("gpu", 1)


def test_gpu_profile_without_count_gets_its_gpus(catalogue: ProfileCatalogue) -> None:
    assert select_for(catalogue, {"profile": "gpu"}, {"instructor"}).gpus == 2


def test_profile_of_another_group_is_refused(catalogue: ProfileCatalogue) -> None:
    refused = refusal(catalogue, {"profile": "gpu"}, {"students"})
    assert refused.status_code == 403
    assert "'GPU lab' is only for members of: gpu, instructor" in refused.message
    assert "available to you: cpu" in refused.message


def test_unknown_profile_is_refused(catalogue: ProfileCatalogue) -> None:
    refused = refusal(catalogue, {"profile": "tpu"}, {"gpu"})
    assert refused.status_code == 400
    assert refused.message == "There is no profile named 'tpu'. Choose one of: cpu, gpu."


def test_profile_must_be_a_name(catalogue: ProfileCatalogue) -> None:
    refused = refusal(catalogue, {"profile": ["gpu"]}, {"gpu"})
    assert refused.status_code == 400
    assert "must be given by its name" in refused.message


@pytest.mark.parametrize(
    "options",
    [
        {"profile": "cpu", "image": "evil/miner:latest"},
        {"profile": "cpu", "cpu_limit": 64},
        {"kubespawner_override": {"privileged": True}},
    ],
)
def test_unknown_options_are_refused(catalogue: ProfileCatalogue, options: dict) -> None:
    refused = refusal(catalogue, options, {"gpu"})
    assert refused.status_code == 400
    assert refused.message.startswith("Unknown server option(s): ")
    assert "Only profile, gpu_type and gpus may be given." in refused.message


def test_options_must_be_an_object(catalogue: ProfileCatalogue) -> None:
    assert refusal(catalogue, ["gpu"], {"gpu"}).status_code == 400


def test_more_gpus_than_the_profile_offers_are_refused(catalogue: ProfileCatalogue) -> None:
    refused = refusal(catalogue, {"profile": "gpu", "gpus": 3}, {"gpu"})
    assert refused.status_code == 403
    assert refused.message == "The profile 'GPU lab' offers at most 2 GPU(s); 3 were requested."


def test_gpus_on_a_cpu_profile_are_refused(catalogue: ProfileCatalogue) -> None:
    refused = refusal(catalogue, {"profile": "cpu", "gpus": 1}, {"gpu"})
    assert refused.status_code == 403
    assert "has no GPUs" in refused.message


# "²" and the Arabic-Indic digit one pass str.isdigit(), but int() refuses the first and reads
# the second as 1; only the ASCII digits a form sends are a count.
@pytest.mark.parametrize(
    "count", [1.5, 1.0, "two", True, False, "-1", "+1", " 1", "1 ", "²", "\u0661", "1_0", [1], {}]
)
@pytest.mark.parametrize("profile", ["gpu", "cpu"])
def test_gpu_count_must_be_a_whole_number(
    catalogue: ProfileCatalogue, profile: str, count: object
) -> None:
    refused = refusal(catalogue, {"profile": profile, "gpus": count}, {"gpu"})
    assert refused.status_code == 400
    assert "must be a whole number written with the digits 0-9" in refused.message


@pytest.mark.parametrize("count", [-1, -5])
@pytest.mark.parametrize("profile", ["gpu", "cpu"])
def test_negative_gpu_counts_are_refused(
    catalogue: ProfileCatalogue, profile: str, count: int
) -> None:
    refused = refusal(catalogue, {"profile": profile, "gpus": count}, {"gpu"})
    assert refused.status_code == 400
    assert refused.message == f"The GPU count cannot be negative; {count} was requested."


def test_a_huge_gpu_count_is_refused_not_a_crash(catalogue: ProfileCatalogue) -> None:
    # int() refuses strings of more than 4300 digits with ValueError.
    refused = refusal(catalogue, {"profile": "gpu", "gpus": "9" * 5000}, {"gpu"})
    assert refused.status_code == 400


@pytest.mark.parametrize("count", [0, "0"])
def test_zero_gpus_on_a_cpu_profile_is_what_it_has(catalogue: ProfileCatalogue, count) -> None:
    selection = select_for(catalogue, {"profile": "cpu", "gpus": count}, {"gpu"})
    assert (selection.profile.slug, selection.gpus) == ("cpu", 0)


def test_zero_gpus_on_a_gpu_profile_is_refused(catalogue: ProfileCatalogue) -> None:
    refused = refusal(catalogue, {"profile": "gpu", "gpus": 0}, {"gpu"})
    assert refused.message == "Ask for between 1 and 2 GPU(s), not 0."


def test_user_without_any_profile_is_told_what_to_do(chart_values: dict) -> None:
    for profile in chart_values["singleuser"]["profileList"]:
        profile["allowedGroups"] = ["staff"]
    catalogue = ProfileCatalogue.from_values(chart_values["singleuser"])
    refused = refusal(catalogue, {}, {"students"})
    assert refused.status_code == 403
    assert "No lab profile is available to your account (your groups: students)" in refused.message

"""Profiles in KubeSpawner's form (z2jh's profileList): the same rules as this chart's form."""

from __future__ import annotations

from typing import Any

import pytest
from hub_fakes import values_with
from jupyterhub.traitlets import ByteSpecification
from traitlets import HasTraits, TraitError

from hubconfig.gpu_quota import GpuQuota, Holdings
from hubconfig.gpu_quota import check as check_gpu_quota
from hubconfig.profiles import ProfileCatalogue, form_entries
from hubconfig.quantities import memory_bytes
from hubconfig.refusals import SpawnRefused
from hubconfig.user_options import Selection, select
from hubconfig.values import ValuesError, describe_errors

SEED_PROFILE = {
    "display_name": "NLP environment",
    "description": "Comes with Transformers, NLTK, Spacy, Gensim, and more",
    "kubespawner_override": {
        "http_timeout": 120,
        "start_timeout": 300,
        "image": "ghcr.io/fhswf/jupyterhub-k8s/jupyter_nlp:sha-cdbfbd0",
        "extra_resource_limits": {"nvidia.com/gpu": "1"},
    },
}
IMAGE_OPTION = {
    "display_name": "Image",
    "choices": {
        "base": {
            "display_name": "Base",
            "kubespawner_override": {"image": "example/base:1", "mem_limit": "2Gi"},
        },
        "torch": {
            "display_name": "PyTorch",
            "default": True,
            "kubespawner_override": {"image": "example/torch:1"},
        },
    },
}
PROFILES = [
    {"display_name": "Python", "default": True, "profile_options": {"image": IMAGE_OPTION}},
    {**SEED_PROFILE, "allowedGroups": ["gpu"]},
]


def campus(profiles: list[dict[str, Any]]) -> dict[str, Any]:
    return values_with({"singleuser": {"profileList": profiles}})


@pytest.fixture
def catalogue() -> ProfileCatalogue:
    return ProfileCatalogue.from_values(campus(PROFILES)["singleuser"])


def chosen(catalogue: ProfileCatalogue, options: object, groups: set[str]) -> Selection:
    return select(options, catalogue.offer(groups, None))


def refusal(catalogue: ProfileCatalogue, options: object, groups: set[str]) -> SpawnRefused:
    with pytest.raises(SpawnRefused) as refused:
        chosen(catalogue, options, groups)
    return refused.value


def test_the_seed_profile_is_accepted_as_is() -> None:
    assert describe_errors(campus([SEED_PROFILE])) == []


def test_a_missing_slug_is_derived_as_kubespawner_derives_it(catalogue: ProfileCatalogue) -> None:
    assert [profile.slug for profile in catalogue.profiles] == ["python", "nlp-environment"]


def test_a_gpu_in_the_override_makes_a_gpu_profile_of_exactly_that_many(
    catalogue: ProfileCatalogue,
) -> None:
    selection = chosen(catalogue, {"profile": "nlp-environment"}, {"gpu"})
    assert selection.gpus == 1
    override = selection.kubespawner_override
    assert override["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert override["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert override["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in override["volume_mounts"]  # noqa: S108
    assert override["image"] == "ghcr.io/fhswf/jupyterhub-k8s/jupyter_nlp:sha-cdbfbd0"
    assert (override["start_timeout"], override["http_timeout"]) == (300, 120)


def test_the_gpu_profile_counts_against_the_gpu_quota(catalogue: ProfileCatalogue) -> None:
    selection = chosen(catalogue, {"profile": "nlp-environment"}, {"gpu"})
    held = Holdings(by_server={"other": 1}, by_group={})
    with pytest.raises(SpawnRefused) as refused:
        check_gpu_quota(GpuQuota(per_user=1), selection.gpus, selection.gpu_resource, {"gpu"}, held)
    assert refused.value.status_code == 403
    assert "at most 1 GPU(s) at once" in refused.value.message


@pytest.mark.parametrize(
    ("options", "status", "message"),
    [
        ({"profile": "nlp-environment", "gpus": "2"}, 403, "offers at most 1 GPU(s)"),
        ({"profile": "nlp-environment", "gpus": "0"}, 400, "has exactly 1 GPU(s)"),
        ({"profile": "python", "gpus": "1"}, 403, "has no GPUs"),
        ({"profile": "python", "image": "evil/miner:1"}, 400, "'evil/miner:1' is not a choice"),
        ({"profile": "python", "image": ["base"]}, 400, "is not a choice of 'Image'"),
        (
            {"profile": "python", "image--unlisted-choice": "evil/miner:1"},
            400,
            "Unknown server option(s): image--unlisted-choice",
        ),
        ({"profile": "python", "mem_limit": "64G"}, 400, "Unknown server option(s): mem_limit"),
        ({"profile": "nlp-environment", "image": "base"}, 400, "Unknown server option(s): image"),
    ],
)
def test_tampered_requests_are_refused(
    catalogue: ProfileCatalogue, options: dict[str, Any], status: int, message: str
) -> None:
    refused = refusal(catalogue, options, {"gpu"})
    assert refused.status_code == status
    assert message in refused.message


def test_allowed_groups_hold_in_kubespawners_form(catalogue: ProfileCatalogue) -> None:
    refused = refusal(catalogue, {"profile": "nlp-environment"}, {"students"})
    assert refused.status_code == 403
    assert "only for members of: gpu" in refused.message


def test_a_choice_applies_its_override(catalogue: ProfileCatalogue) -> None:
    default = chosen(catalogue, {"profile": "python"}, set())
    assert default.kubespawner_override["image"] == "example/torch:1"
    base = chosen(catalogue, {"profile": "python", "image": "base"}, set())
    assert base.kubespawner_override == {"image": "example/base:1", "mem_limit": 2 * 1024**3}


def test_the_form_shows_choices_but_no_overrides(catalogue: ProfileCatalogue) -> None:
    python, nlp = form_entries(catalogue.offer({"gpu"}, None))
    assert python["profile_options"] == {
        "image": {
            "display_name": "Image",
            "choices": {
                "base": {"display_name": "Base", "default": False},
                "torch": {"display_name": "PyTorch", "default": True},
            },
        }
    }
    # Exactly one GPU: nothing to choose.
    assert "profile_options" not in nlp


def test_overrides_of_choices_are_reset_before_each_start(catalogue: ProfileCatalogue) -> None:
    assert {"image", "mem_limit", "extra_resource_limits"} <= catalogue.overridden_traits


@pytest.mark.parametrize(
    ("override", "located"),
    [
        ({"uid": 0}, "never as another user or root"),
        ({"privileged": True}, "labs are never privileged"),
        ({"extra_pod_config": {"hostNetwork": True}}, "host access"),
        ({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, "no profile mounts a host path"),
        ({"service_account": "default"}, "no Kubernetes API access"),
        ({"mem_limit": "4GB"}, "does not match"),
    ],
)
def test_unsafe_overrides_are_refused(override: dict[str, Any], located: str) -> None:
    profile = {"display_name": "Sneaky", "kubespawner_override": override}
    for values in (campus([profile]), campus([{**PROFILES[0], "kubespawner_override": {}}])):
        values["singleuser"]["profileList"][0]["profile_options"] = {
            "image": {
                "display_name": "x",
                "choices": {"a": {"display_name": "a", "kubespawner_override": override}},
            }
        }
        problems = describe_errors(values)
        assert any(located in problem for problem in problems), problems


def test_free_text_choices_are_refused() -> None:
    option = {**IMAGE_OPTION, "unlisted_choice": {"enabled": True, "validation_regex": ".*"}}
    values = campus([{"display_name": "Python", "profile_options": {"image": option}}])
    (problem,) = describe_errors(values)
    assert problem.startswith("singleuser.profileList[0].profile_options.image.unlisted_choice")
    assert "free text would reach the pod as typed" in problem


@pytest.mark.parametrize(
    ("profiles", "expected"),
    [
        (
            [{"display_name": "NLP environment"}, {"display_name": "NLP  Environment!"}],
            r"profileList\[1\]\.slug: duplicate slug 'nlp-environment'",
        ),
        ([{"display_name": "!!!"}], r"profileList\[0\]\.slug: no slug can be derived"),
        (
            [{"display_name": "Both", "displayName": "Both"}],
            r"profileList\[0\]: give the profile one name",
        ),
        ([{"description": "no name"}], r"not neither"),
        (
            [
                {
                    **SEED_PROFILE,
                    "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1.5"}},
                }
            ],
            r"nvidia.com/gpu: '1.5' is not a whole number of GPUs",
        ),
        ([{**SEED_PROFILE, "gpus": 2}], r"the profile also sets gpus"),
        (
            [
                {
                    "display_name": "Choice GPUs",
                    "profile_options": {
                        "gpu": {
                            "display_name": "GPU",
                            "choices": {
                                "one": {
                                    "display_name": "one",
                                    "kubespawner_override": {
                                        "extra_resource_limits": {"nvidia.com/gpu": "1"}
                                    },
                                }
                            },
                        }
                    },
                }
            ],
            r"choices\.one: a choice cannot set nvidia.com/gpu",
        ),
    ],
)
def test_profiles_that_do_not_fit_together_stop_the_hub(
    profiles: list[dict[str, Any]], expected: str
) -> None:
    with pytest.raises(ValuesError, match=expected):
        ProfileCatalogue.from_values(campus(profiles)["singleuser"])


class Lab(HasTraits):
    mem_limit = ByteSpecification()


def test_kubespawner_refuses_kubernetes_units_so_the_hub_converts_them() -> None:
    with pytest.raises(TraitError):
        Lab(mem_limit="4Gi")
    assert Lab(mem_limit=memory_bytes("4Gi")).mem_limit == Lab(mem_limit="4G").mem_limit


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("512Mi", 512 * 1024**2),
        ("4Gi", 4 * 1024**3),
        ("1G", 1024**3),
        ("1.5G", 3 * 512 * 1024**2),
        ("2048K", 2 * 1024**2),
        ("1Ti", 1024**4),
        ("1073741824", 1024**3),
        (1073741824, 1024**3),
    ],
)
def test_memory_sizes(written: str | int, expected: int) -> None:
    assert memory_bytes(written) == expected


@pytest.mark.parametrize("written", ["4GB", "4gi", "-1G", "1e9", "", True])
def test_memory_sizes_that_are_refused(written: str | bool) -> None:
    with pytest.raises(ValueError, match="is not a memory size"):
        memory_bytes(written)
    values = campus([{"display_name": "Python", "memory": {"limit": written}}])
    assert describe_errors(values)

"""GPU types: what a lab of each kind gets, the rules across keys, and the `gpu_type` option."""

from __future__ import annotations

import copy

import pytest
from gpu_cluster import GPU_TYPES, TYPED_GPU_PROFILE
from hub_fakes import PROFILES, values_with

from hubconfig.profiles import ProfileCatalogue, form_entries
from hubconfig.refusals import SpawnRefused
from hubconfig.user_options import select
from hubconfig.values import ValuesError, describe_errors

MIG_PROFILE = {
    "display_name": "MIG lab",
    "kubespawner_override": {"extra_resource_limits": {"nvidia.com/mig-1g.10gb": "1"}},
}


def typed_values(*profiles: dict, types: dict | None = None) -> dict:
    return values_with(
        {
            "singleuser": {
                "images": {"lab-nlp": {"name": "example/lab-nlp", "tag": "7"}},
                "gpu": {"types": GPU_TYPES if types is None else types},
                "profileList": [*PROFILES[:2], *profiles],
            }
        }
    )


@pytest.fixture
def catalogue() -> ProfileCatalogue:
    return ProfileCatalogue.from_values(
        typed_values(TYPED_GPU_PROFILE, MIG_PROFILE, PROFILES[2] | {"slug": "plain"})["singleuser"]
    )


def problems(*profiles: dict, types: dict | None = None) -> str:
    values = typed_values(*profiles, types=types)
    schema_problems = describe_errors(values)
    if schema_problems:
        return "\n".join(schema_problems)
    with pytest.raises(ValuesError) as error:
        ProfileCatalogue.from_values(values["singleuser"])
    return str(error.value)


def test_a_lab_of_a_type_gets_its_resource_nodes_and_tolerations(
    catalogue: ProfileCatalogue,
) -> None:
    gpu = catalogue.by_slug("gpu")
    assert [kind.name for kind in gpu.gpu_types] == ["a100", "mig-1g-10gb", "t4-shared"]
    a100 = select({"profile": "gpu", "gpus": "1"}, catalogue.offer({"gpu"}, None))
    assert (a100.gpu_type.name, a100.gpu_resource) == ("a100", "nvidia.com/gpu")
    assert a100.kubespawner_override["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert a100.kubespawner_override["node_selector"] == {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    }
    mig = select({"profile": "gpu", "gpu_type": "mig-1g-10gb"}, catalogue.offer({"gpu"}, None))
    override = mig.kubespawner_override
    assert (mig.gpus, mig.gpu_resource) == (2, "nvidia.com/mig-1g.10gb")
    assert override["extra_resource_limits"] == {"nvidia.com/mig-1g.10gb": "2"}
    assert override["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert [toleration["key"] for toleration in override["tolerations"]] == [
        "nvidia.com/gpu",
        "mig",
    ]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in override["volume_mounts"]  # noqa: S108


def test_a_profile_without_types_keeps_the_default_resource(catalogue: ProfileCatalogue) -> None:
    plain = select({"profile": "plain", "gpus": 1}, catalogue.offer({"gpu"}, None))
    assert plain.gpu_resource == "nvidia.com/gpu"
    assert plain.kubespawner_override["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert plain.kubespawner_override["extra_resource_limits"] == {"nvidia.com/gpu": "1"}


def test_a_kubespawner_profile_naming_a_types_resource_is_of_that_type(
    catalogue: ProfileCatalogue,
) -> None:
    mig = catalogue.by_slug("mig-lab")
    assert (mig.gpus, [kind.name for kind in mig.gpu_types]) == (1, ["mig-1g-10gb"])
    assert "nvidia.com/mig-1g.10gb" not in mig.kubespawner_override["extra_resource_limits"]
    selection = select({"profile": "mig-lab"}, catalogue.offer(set(), None))
    assert selection.kubespawner_override["extra_resource_limits"] == {
        "nvidia.com/mig-1g.10gb": "1"
    }


@pytest.mark.parametrize(
    ("profiles", "expected"),
    [
        (
            [TYPED_GPU_PROFILE | {"gpuTypes": ["a100", "h100"]}],
            "singleuser.profileList[2].gpuTypes[1]: unknown GPU type 'h100' (keys of "
            "singleuser.gpu.types: a100, mig-1g-10gb, t4-shared)",
        ),
        (
            [TYPED_GPU_PROFILE | {"gpus": 0}],
            "singleuser.profileList[2].gpuTypes: the profile has no GPUs",
        ),
        (
            [{"display_name": "CPU", "gpuTypes": ["a100"]}],
            "singleuser.profileList[2].gpuTypes: the profile has no GPUs",
        ),
        (
            [
                {
                    "display_name": "GPU",
                    "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1"}},
                }
            ],
            "singleuser.profileList[2].kubespawner_override.extra_resource_limits.nvidia.com/gpu: "
            "the GPU types a100, t4-shared all use nvidia.com/gpu; say which this profile offers "
            "in gpuTypes",
        ),
        (
            [MIG_PROFILE | {"gpuTypes": ["mig-1g-10gb", "a100"]}],
            "singleuser.profileList[2].gpuTypes[1]: the GPU type 'a100' uses nvidia.com/gpu, but "
            "kubespawner_override.extra_resource_limits sets nvidia.com/mig-1g.10gb",
        ),
        (
            [
                {
                    "display_name": "Two",
                    "kubespawner_override": {
                        "extra_resource_limits": {
                            "nvidia.com/mig-1g.10gb": "1",
                            "nvidia.com/gpu": "1",
                        }
                    },
                    "gpuTypes": ["a100"],
                }
            ],
            "names several GPU resources (nvidia.com/gpu, nvidia.com/mig-1g.10gb)",
        ),
        (
            [
                {
                    "display_name": "Sliced",
                    "kubespawner_override": {
                        "extra_resource_limits": {"nvidia.com/mig-1g.10gb": "1.5"}
                    },
                }
            ],
            "extra_resource_limits.nvidia.com/mig-1g.10gb: '1.5' is not a whole number of GPUs",
        ),
        (
            [
                {
                    "display_name": "Sizes",
                    "profile_options": {
                        "size": {
                            "display_name": "Size",
                            "choices": {
                                "big": {
                                    "display_name": "Big",
                                    "kubespawner_override": {
                                        "extra_resource_limits": {"nvidia.com/mig-1g.10gb": "1"}
                                    },
                                }
                            },
                        }
                    },
                }
            ],
            "choices.big: a choice cannot set nvidia.com/mig-1g.10gb",
        ),
        (
            [TYPED_GPU_PROFILE | {"gpuTypes": ["a100", "a100"]}],
            "singleuser.profileList[2].gpuTypes: ['a100', 'a100'] has non-unique elements",
        ),
        (
            [TYPED_GPU_PROFILE | {"gpuTypes": []}],
            "singleuser.profileList[2].gpuTypes: [] should be non-empty",
        ),
    ],
)
def test_gpu_types_that_do_not_fit_together_stop_the_hub(profiles: list, expected: str) -> None:
    assert expected in problems(*profiles)


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ({"A100": GPU_TYPES["a100"]}, "singleuser.gpu.types: 'A100' does not match"),
        ({"a100": {"displayName": "A100"}}, "'resourceName' is a required property"),
        ({"a100": GPU_TYPES["a100"] | {"count": 2}}, "'count' was unexpected"),
        ({"a100": GPU_TYPES["a100"] | {"maxPerLab": 0}}, "0 is less than the minimum of 1"),
        ({"a100": GPU_TYPES["a100"] | {"maxPerLab": "1"}}, "'1' is not of type 'integer'"),
        ({"a100": GPU_TYPES["a100"] | {"maxPerLab": 1.5}}, "1.5 is not of type 'integer'"),
        ({"a100": GPU_TYPES["a100"] | {"maxPerLab": True}}, "True is not of type 'integer'"),
    ],
)
def test_malformed_types_are_schema_errors(types: dict, expected: str) -> None:
    assert expected in problems(types=types)


def test_a_profile_option_cannot_be_named_gpu_type() -> None:
    entry = {
        "display_name": "Lab",
        "profile_options": {
            "gpu_type": {"display_name": "T", "choices": {"a": {"display_name": "A"}}}
        },
    }
    assert "singleuser.profileList[2].profile_options" in problems(entry)


GROUPS = {"gpu"}


def refused(catalogue: ProfileCatalogue, options: object) -> SpawnRefused:
    with pytest.raises(SpawnRefused) as refusal:
        select(options, catalogue.offer(GROUPS, None))
    return refusal.value


@pytest.mark.parametrize(
    ("options", "status", "message"),
    [
        (
            {"profile": "gpu", "gpu_type": "h100"},
            400,
            "There is no GPU type named 'h100'. Choose one of: a100, mig-1g-10gb, t4-shared.",
        ),
        (
            {"profile": "mig-lab", "gpu_type": "a100"},
            403,
            "The profile 'MIG lab' does not offer the GPU type 'a100'; it offers: mig-1g-10gb.",
        ),
        (
            {"profile": "plain", "gpu_type": "a100"},
            403,
            "The profile 'GPU lab' does not offer the GPU type 'a100'; it offers: its default "
            "GPUs only.",
        ),
        (
            {"profile": "cpu", "gpu_type": "a100"},
            403,
            "The profile 'Python lab' has no GPUs; choose a GPU profile.",
        ),
        (
            {"profile": "gpu", "gpu_type": ["a100"]},
            400,
            "The GPU type must be given by its name (one of: a100, mig-1g-10gb, t4-shared), not "
            "['a100'].",
        ),
        ({"profile": "gpu", "gpu_type": 1}, 400, "The GPU type must be given by its name"),
        ({"profile": "gpu", "gpu_type": {"name": "a100"}}, 400, "must be given by its name"),
        ({"profile": "gpu", "gpu_type": "A100"}, 400, "There is no GPU type named 'A100'"),
        ({"profile": "gpu", "gpu_type": "a100 "}, 400, "There is no GPU type named 'a100 '"),
        (
            {"profile": "gpu", "gpu_type": "mig-1g-10gb", "gpu_type--unlisted-choice": "h100"},
            400,
            "Unknown server option(s): gpu_type--unlisted-choice.",
        ),
    ],
)
def test_hostile_gpu_types_are_refused(
    catalogue: ProfileCatalogue, options: dict, status: int, message: str
) -> None:
    refusal = refused(catalogue, options)
    assert (refusal.status_code, message in refusal.message) == (status, True), refusal.message


def test_a_profiles_only_type_may_be_named(catalogue: ProfileCatalogue) -> None:
    selection = select(
        {"profile": "mig-lab", "gpu_type": "mig-1g-10gb"}, catalogue.offer(set(), None)
    )
    assert selection.gpu_resource == "nvidia.com/mig-1g.10gb"


def test_the_form_offers_each_type_with_its_note(catalogue: ProfileCatalogue) -> None:
    notes = {
        "a100": "NVIDIA A100 80GB: 1 of 2 free now; you may take 1 more",
        "mig-1g-10gb": "A100 MIG slice 1g.10gb: availability unknown; you may take 1 more",
        "t4-shared": "NVIDIA T4, time-sliced: 0 of 4 free now; you may take 0 more",
        "": "GPU: 3 of 6 free now; you may take 1 more",
    }
    entries = {entry["slug"]: entry for entry in form_entries(catalogue.offer(GROUPS, None), notes)}
    gpu_type = entries["gpu"]["profile_options"]["gpu_type"]
    assert gpu_type["display_name"] == "GPU type"
    assert {key: choice["display_name"] for key, choice in gpu_type["choices"].items()} == {
        "a100": notes["a100"],
        "mig-1g-10gb": notes["mig-1g-10gb"],
        "t4-shared": "NVIDIA T4, time-sliced: 0 of 4 free now; you may take 0 more",
    }
    assert [key for key, choice in gpu_type["choices"].items() if choice["default"]] == ["a100"]
    # One kind: no choice to make, the note is in the description.
    assert "profile_options" not in entries["mig-lab"]
    assert entries["mig-lab"]["description"] == notes["mig-1g-10gb"]
    assert entries["plain"]["description"] == notes[""]
    assert "gpu_type" not in entries["plain"].get("profile_options", {})


def test_everything_the_form_shows_is_escaped() -> None:
    hostile = copy.deepcopy(GPU_TYPES)
    hostile["a100"]["displayName"] = "<img src=x onerror=alert(1)>"
    profile = TYPED_GPU_PROFILE | {"displayName": "GPU <b>lab</b>", "description": "a & b"}
    catalogue = ProfileCatalogue.from_values(typed_values(profile, types=hostile)["singleuser"])
    (*_, entry) = form_entries(catalogue.offer(GROUPS, None), {"a100": "<script>x</script>: 1"})
    shown = str(entry)
    assert "<" not in shown and ">" not in shown
    assert entry["display_name"] == "GPU &lt;b&gt;lab&lt;/b&gt;"
    assert entry["description"] == "a &amp; b"
    choices = entry["profile_options"]["gpu_type"]["choices"]
    assert choices["a100"]["display_name"] == "&lt;script&gt;x&lt;/script&gt;: 1"
    assert choices["t4-shared"]["display_name"] == "NVIDIA T4, time-sliced"


# A shared GPU or a MIG slice is handed out one at a time (NVIDIA's time-slicing refuses a pod
# asking for more than one replica), so such a type says so.
ONE_AT_A_TIME = {
    name: spec | ({"maxPerLab": 1} if name != "a100" else {}) for name, spec in GPU_TYPES.items()
}


@pytest.fixture
def one_at_a_time() -> ProfileCatalogue:
    values = typed_values(TYPED_GPU_PROFILE, types=ONE_AT_A_TIME)
    return ProfileCatalogue.from_values(values["singleuser"])


@pytest.mark.parametrize("gpus", [2, "2"])
@pytest.mark.parametrize(
    ("gpu_type", "shown"),
    [("t4-shared", "NVIDIA T4, time-sliced"), ("mig-1g-10gb", "A100 MIG slice 1g.10gb")],
)
def test_more_gpus_than_a_type_gives_per_lab_are_refused(
    one_at_a_time: ProfileCatalogue, gpu_type: str, shown: str, gpus: object
) -> None:
    refusal = refused(one_at_a_time, {"profile": "gpu", "gpu_type": gpu_type, "gpus": gpus})
    assert refusal.status_code == 400
    assert refusal.message == (
        f"The GPU type {gpu_type!r} ({shown}) gives at most 1 GPU per lab; 2 were requested."
    )


def test_a_type_without_a_most_per_lab_takes_the_profiles_count(
    one_at_a_time: ProfileCatalogue,
) -> None:
    offer = one_at_a_time.offer(GROUPS, None)
    assert select({"profile": "gpu", "gpu_type": "a100", "gpus": 2}, offer).gpus == 2
    assert select({"profile": "gpu", "gpu_type": "a100"}, offer).gpus == 2


def test_no_count_given_means_the_most_the_type_gives(one_at_a_time: ProfileCatalogue) -> None:
    selection = select(
        {"profile": "gpu", "gpu_type": "t4-shared"}, one_at_a_time.offer(GROUPS, None)
    )
    assert selection.gpus == 1
    assert selection.kubespawner_override["extra_resource_limits"] == {"nvidia.com/gpu": "1"}


def test_an_exact_count_above_a_types_most_stops_the_hub() -> None:
    entry = {
        "display_name": "Two slices",
        "kubespawner_override": {"extra_resource_limits": {"nvidia.com/mig-1g.10gb": "2"}},
        "gpuTypes": ["mig-1g-10gb"],
    }
    assert (
        "singleuser.profileList[2].gpuTypes[0]: the GPU type 'mig-1g-10gb' gives at most 1 GPU "
        "per lab (singleuser.gpu.types.mig-1g-10gb.maxPerLab), but the profile has exactly 2"
    ) in problems(entry, types=ONE_AT_A_TIME)

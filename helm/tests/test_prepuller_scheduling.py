"""The image pre-puller (prePuller) and pod priority with user placeholders (scheduling), with
z2jh's value names: what each renders, where each image is pulled, and the values refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import DEV_VALUES, find, render, render_error
from test_chart import FULLNAME, hub_spawners

GPU_PLACEMENT = {
    "nodeSelector": {"nvidia.com/gpu.present": "true"},
    "tolerations": [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ],
}
HOOK = "pre-install,pre-upgrade"
LAB_BASE = "jupyterhub-k8s/lab-base:latest"
DEEP_LEARNING = "registry.example.edu/lab-deeplearning:2026.1"


# The dev values keep the pre-puller off (helm/values-dev.yaml says why): these tests turn it on,
# as the chart's defaults have it.
PULLERS_ON = ("prePuller.hook.enabled=true", "prePuller.continuous.enabled=true")


def render_dev(*files: Path, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The dev values (and `files`) rendered with the chart's default pre-pullers."""
    return render(DEV_VALUES, *files, sets=(*PULLERS_ON, *sets))


def values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def pulled(manifests: list[dict[str, Any]], name: str) -> list[str]:
    """The images a puller DaemonSet pulls, in order; checks each pull container's shape."""
    spec = find(manifests, "DaemonSet", name)["spec"]["template"]["spec"]
    for container in spec["initContainers"]:
        assert container["command"] == ["/bin/sh", "-c", "exit 0"]
        assert container["securityContext"]["runAsNonRoot"] is True
    assert [c["image"] for c in spec["containers"]] == ["registry.k8s.io/pause:3.10.1"]
    return [container["image"] for container in spec["initContainers"]]


def names(manifests: list[dict[str, Any]], kind: str) -> set[str]:
    return {m["metadata"]["name"] for m in manifests if m["kind"] == kind}


def test_each_image_is_pulled_where_its_labs_run() -> None:
    manifests = render_dev()
    cpu_puller = f"{FULLNAME}-continuous-image-puller-cpu"
    gpu_puller = f"{FULLNAME}-continuous-image-puller-gpu"
    # The dev GPU profile uses lab-base: it goes to both kinds of node, lab-nlp only to CPU nodes
    # and the Deep learning lab's image only to GPU nodes.
    assert pulled(manifests, cpu_puller) == [LAB_BASE, "jupyterhub-k8s/lab-nlp"]
    assert pulled(manifests, gpu_puller) == [LAB_BASE, "jupyterhub-k8s/lab-deeplearning"]
    gpu_spec = find(manifests, "DaemonSet", gpu_puller)["spec"]["template"]["spec"]
    assert {key: gpu_spec[key] for key in GPU_PLACEMENT} == GPU_PLACEMENT
    cpu_spec = find(manifests, "DaemonSet", cpu_puller)["spec"]["template"]["spec"]
    # Without the GPU nodes' toleration, CPU images stay off GPU nodes, as CPU labs do.
    assert "tolerations" not in cpu_spec
    assert "nodeSelector" not in cpu_spec
    assert cpu_spec["automountServiceAccountToken"] is False


def test_an_image_only_gpu_labs_use_is_never_pulled_on_cpu_nodes(tmp_path: Path) -> None:
    values = {
        "singleuser": {
            "nodeSelector": {"campus.example.edu/pool": "labs"},
            "extraTolerations": [{"key": "labs", "operator": "Exists"}],
            "images": {"dl": {"name": "registry.example.edu/lab-deeplearning", "tag": "2026.1"}},
            "profileList": [
                {"slug": "cpu", "displayName": "CPU"},
                {"slug": "gpu", "displayName": "GPU", "image": "dl", "gpus": 1},
                {
                    "display_name": "GPU, KubeSpawner's form",
                    "kubespawner_override": {
                        "image": "registry.example.edu/lab-cuda12:1",
                        "extra_resource_limits": {"nvidia.com/gpu": "1"},
                    },
                },
                {
                    "display_name": "Choice of images",
                    "profile_options": {
                        "image": {
                            "display_name": "Image",
                            "choices": {
                                "r": {
                                    "display_name": "R",
                                    "kubespawner_override": {"image": "registry.example.edu/r:4"},
                                }
                            },
                        }
                    },
                },
            ],
        },
        "prePuller": {"extraImages": {"tools": {"name": "registry.example.edu/tools", "tag": "1"}}},
    }
    manifests = render_dev(values_file(tmp_path, values))
    cpu = f"{FULLNAME}-continuous-image-puller-cpu"
    gpu = f"{FULLNAME}-continuous-image-puller-gpu"
    assert pulled(manifests, cpu) == [
        LAB_BASE,
        "registry.example.edu/r:4",
        "registry.example.edu/tools:1",
    ]
    assert pulled(manifests, gpu) == [DEEP_LEARNING, "registry.example.edu/lab-cuda12:1"]
    gpu_spec = find(manifests, "DaemonSet", gpu)["spec"]["template"]["spec"]
    assert gpu_spec["nodeSelector"] == {
        "campus.example.edu/pool": "labs",
        "nvidia.com/gpu.present": "true",
    }
    assert gpu_spec["tolerations"] == [
        {"key": "labs", "operator": "Exists"},
        *GPU_PLACEMENT["tolerations"],
    ]
    cpu_spec = find(manifests, "DaemonSet", cpu)["spec"]["template"]["spec"]
    assert cpu_spec["nodeSelector"] == {"campus.example.edu/pool": "labs"}
    assert cpu_spec["tolerations"] == [{"key": "labs", "operator": "Exists"}]


def test_without_profile_images_only_the_default_and_extra_images_are_pulled() -> None:
    manifests = render_dev(sets=("prePuller.pullProfileListImages=false",))
    assert pulled(manifests, f"{FULLNAME}-continuous-image-puller-cpu") == [LAB_BASE]
    assert f"{FULLNAME}-continuous-image-puller-gpu" not in names(manifests, "DaemonSet")


def test_the_hook_pulls_before_the_upgrade_and_waits_with_least_rights() -> None:
    manifests = render_dev()
    pullers = [f"{FULLNAME}-hook-image-puller-cpu", f"{FULLNAME}-hook-image-puller-gpu"]
    awaiter = f"{FULLNAME}-hook-image-awaiter"
    weights = {}
    for kind, name in [("DaemonSet", p) for p in pullers] + [
        ("ServiceAccount", awaiter),
        ("Role", awaiter),
        ("RoleBinding", awaiter),
        ("Job", awaiter),
    ]:
        annotations = find(manifests, kind, name)["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == HOOK
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        weights[kind] = int(annotations["helm.sh/hook-weight"])
    # Helm creates hooks by weight: the rights and pullers first, then the Job it waits for.
    assert weights["Role"] < weights["DaemonSet"] < weights["Job"]
    assert pulled(manifests, pullers[0]) == pulled(
        manifests, f"{FULLNAME}-continuous-image-puller-cpu"
    )
    (rule,) = find(manifests, "Role", awaiter)["rules"]
    assert rule == {
        "apiGroups": ["apps"],
        "resources": ["daemonsets"],
        "resourceNames": pullers,
        "verbs": ["get"],
    }
    job = find(manifests, "Job", awaiter)["spec"]["template"]["spec"]
    (container,) = job["containers"]
    assert container["command"] == [
        "python3",
        "-m",
        "hubconfig.image_awaiter",
        "--namespace=teaching",
        *pullers,
    ]
    assert container["image"] == "jupyterhub-k8s/hub:latest"
    assert job["serviceAccountName"] == awaiter


@pytest.mark.parametrize(
    ("sets", "components"),
    [
        (("prePuller.hook.enabled=false",), {"continuous-image-puller"}),
        (("prePuller.continuous.enabled=false",), {"hook-image-puller"}),
        (("prePuller.hook.enabled=false", "prePuller.continuous.enabled=false"), set()),
    ],
)
def test_each_puller_can_be_turned_off(sets: tuple[str, ...], components: set[str]) -> None:
    manifests = render_dev(sets=sets)
    daemon_sets = [m for m in manifests if m["kind"] == "DaemonSet"]
    assert {m["metadata"]["labels"]["app.kubernetes.io/component"] for m in daemon_sets} == (
        components
    )
    assert ("Job" in {m["kind"] for m in manifests}) == ("hook-image-puller" in components)


async def test_nothing_of_scheduling_by_default() -> None:
    manifests = render_dev()
    assert not names(manifests, "PriorityClass")
    assert not names(manifests, "StatefulSet")
    hub, _ = hub_spawners(manifests, "http://127.0.0.1:1")
    assert hub.priority_class_name == ""


PLACEHOLDERS = (
    "scheduling.podPriority.enabled=true",
    "scheduling.userPlaceholder.enabled=true",
    "scheduling.userPlaceholder.replicas=3",
    "singleuser.memory.guarantee=1G",
)


@pytest.fixture
def half_a_core(tmp_path: Path) -> Path:
    """Labs guaranteed half a core (a number: --set would make it a string)."""
    return values_file(tmp_path, {"singleuser": {"cpu": {"guarantee": 0.5}}})


async def test_labs_get_the_default_priority_and_placeholders_a_lower_one(
    half_a_core: Path,
) -> None:
    sets = (*PLACEHOLDERS, "scheduling.podPriority.globalDefault=true")
    manifests = render_dev(half_a_core, sets=sets)
    classes = {
        m["metadata"]["name"]: (m["value"], m["globalDefault"])
        for m in manifests
        if m["kind"] == "PriorityClass"
    }
    assert classes == {
        f"{FULLNAME}-default-priority": (0, True),
        f"{FULLNAME}-image-puller-priority": (-5, False),
        f"{FULLNAME}-user-placeholder-priority": (-10, False),
    }
    # The hub names the labs' class in every lab pod (KubeSpawner's priority_class_name).
    hub, _ = hub_spawners(manifests, "http://127.0.0.1:1")
    await hub.check_and_apply({})
    pod = await hub.get_pod_manifest()
    assert pod.spec.priority_class_name == f"{FULLNAME}-default-priority"
    puller = find(manifests, "DaemonSet", f"{FULLNAME}-continuous-image-puller-cpu")
    assert puller["spec"]["template"]["spec"]["priorityClassName"] == (
        f"{FULLNAME}-image-puller-priority"
    )
    # A pre-install hook runs before the classes exist: its pullers name none.
    hook_puller = find(manifests, "DaemonSet", f"{FULLNAME}-hook-image-puller-cpu")
    assert "priorityClassName" not in hook_puller["spec"]["template"]["spec"]
    placeholders = find(manifests, "StatefulSet", f"{FULLNAME}-user-placeholder")
    assert placeholders["spec"]["replicas"] == 3
    spec = placeholders["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == f"{FULLNAME}-user-placeholder-priority"
    assert spec["terminationGracePeriodSeconds"] == 0
    (pause,) = spec["containers"]
    # Sized like a lab: its guarantees, KubeSpawner's 1G being Kubernetes' 1Gi.
    assert pause["resources"] == {"requests": {"cpu": "0.5", "memory": "1Gi"}}
    assert pause["securityContext"]["runAsUser"] == 65534


def test_placeholder_resources_win_over_the_labs_guarantees(half_a_core: Path) -> None:
    manifests = render(
        DEV_VALUES,
        half_a_core,
        sets=(
            *PLACEHOLDERS,
            "scheduling.userPlaceholder.resources.requests.cpu=2",
            "scheduling.userPlaceholder.resources.requests.nvidia\\.com/gpu=1",
        ),
    )
    placeholders = find(manifests, "StatefulSet", f"{FULLNAME}-user-placeholder")
    (pause,) = placeholders["spec"]["template"]["spec"]["containers"]
    assert pause["resources"] == {"requests": {"cpu": 2, "nvidia.com/gpu": 1}}


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ("scheduling.userPlaceholder.enabled=true", "singleuser.memory.guarantee=1G"),
            "scheduling.userPlaceholder.enabled needs scheduling.podPriority.enabled",
        ),
        (
            (*PLACEHOLDERS, "scheduling.podPriority.userPlaceholderPriority=0"),
            "scheduling.podPriority.userPlaceholderPriority (0) must be below defaultPriority (0)",
        ),
        (
            ("scheduling.podPriority.enabled=true", "scheduling.userPlaceholder.enabled=true"),
            "scheduling.userPlaceholder.enabled but a placeholder would request nothing",
        ),
        (
            ("prePuller.containerSecurityContext.runAsUser=0",),
            "labs never run as root",
        ),
        (
            ("scheduling.userPlaceholder.containerSecurityContext.privileged=true",),
            "containers of labs are never privileged",
        ),
        (
            ("scheduling.podPriority.defaultPriority=2000000000",),
            "/scheduling/podPriority/defaultPriority",
        ),
        (("prePuller.hook.wait=true",), "additional properties 'wait' not allowed"),
        (
            ("prePuller.extraImages.tools.tag=1",),
            "at '/prePuller/extraImages/tools': missing property 'name'",
        ),
    ],
)
def test_values_that_would_not_work_are_refused(sets: tuple[str, ...], message: str) -> None:
    assert message in render_error(DEV_VALUES, sets=sets)

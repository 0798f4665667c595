"""The GPU node advertises fake GPUs through the device plugin, and the scheduler honours them."""

from __future__ import annotations

import pytest
from cluster_kube import (
    output_or_nothing,
    pod_manifest,
    running_pod,
    unschedulable_message,
    wait_until,
)

from devenv import cluster
from tools import docker
from tools.images import lock
from tools.kube import Kubectl

pytestmark = pytest.mark.cluster

GPUS_PER_NODE = "4"
PLUGIN_SELECTOR = "app.kubernetes.io/name=fake-gpu-plugin"


def allocated_ids(kube: Kubectl, namespace: str, pod: str) -> list[str]:
    """The GPU ids the fake nvidia-smi shows inside the pod."""
    output = kube(
        "exec", "-n", namespace, pod, "--",
        "nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader",
    )  # fmt: skip
    return sorted(line.strip() for line in output.splitlines() if line.strip())


def visible_devices(kube: Kubectl, namespace: str, pod: str) -> list[str]:
    output = kube("exec", "-n", namespace, pod, "--", "printenv", "NVIDIA_VISIBLE_DEVICES")
    return sorted(output.strip().split(","))


def test_gpu_node_advertises_four_gpus_and_control_plane_none(
    kube: Kubectl, gpu_node: str, control_plane_node: str
) -> None:
    gpu = kube.get("node", gpu_node)["status"]
    assert gpu["capacity"].get("nvidia.com/gpu") == GPUS_PER_NODE
    assert gpu["allocatable"].get("nvidia.com/gpu") == GPUS_PER_NODE
    control_plane = kube.get("node", control_plane_node)["status"]
    assert "nvidia.com/gpu" not in control_plane["capacity"]
    assert "nvidia.com/gpu" not in control_plane["allocatable"]


def test_gpu_pods_get_disjoint_devices_and_the_scheduler_counts_them(
    kube: Kubectl, namespace: str, gpu_node: str
) -> None:
    for name in ("first", "second"):
        kube.apply(pod_manifest(name, namespace, gpus=2, tolerate_gpu=True))
    first = running_pod(kube, namespace, "first")
    second = running_pod(kube, namespace, "second")
    assert first["spec"]["nodeName"] == gpu_node
    assert second["spec"]["nodeName"] == gpu_node

    first_ids = allocated_ids(kube, namespace, "first")
    second_ids = allocated_ids(kube, namespace, "second")
    assert len(first_ids) == 2
    assert len(second_ids) == 2
    assert not set(first_ids) & set(second_ids), "two pods were given the same GPU"
    assert first_ids == visible_devices(kube, namespace, "first")
    assert second_ids == visible_devices(kube, namespace, "second")

    kube.apply(pod_manifest("third", namespace, gpus=1, tolerate_gpu=True))
    assert "Insufficient nvidia.com/gpu" in unschedulable_message(kube, namespace, "third")

    kube("delete", "pod", "-n", namespace, "first", "--wait=true")
    third = running_pod(kube, namespace, "third")
    assert third["spec"]["nodeName"] == gpu_node
    (third_id,) = allocated_ids(kube, namespace, "third")
    assert third_id in first_ids


def test_pods_without_the_gpu_toleration_never_land_on_the_gpu_node(
    kube: Kubectl, namespace: str, gpu_node: str
) -> None:
    # Asking for the GPU node by name without the toleration: the taint keeps the pod out.
    pinned = pod_manifest("pinned", namespace, node_selector={"kubernetes.io/hostname": gpu_node})
    kube.apply(pinned)
    assert "untolerated taint" in unschedulable_message(kube, namespace, "pinned")
    taints = kube.get("node", gpu_node)["spec"].get("taints", [])
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in taints

    # Ordinary pods all go elsewhere.
    for index in range(4):
        kube.apply(pod_manifest(f"cpu-{index}", namespace))
    for index in range(4):
        assert running_pod(kube, namespace, f"cpu-{index}")["spec"]["nodeName"] != gpu_node


def registrations(kube: Kubectl, node: str) -> int:
    """How often the plugin on the node has registered with a kubelet (from its log)."""
    pods = kube.get(
        "pods",
        "-n",
        "kube-system",
        "-l",
        PLUGIN_SELECTOR,
        "--field-selector",
        f"spec.nodeName={node}",
    )["items"]
    assert len(pods) == 1, f"expected one plugin pod on {node}, found {len(pods)}"
    # Logs come through the kubelet: while it restarts there are none to read (count as none).
    log = output_or_nothing(kube, "logs", "-n", "kube-system", pods[0]["metadata"]["name"])
    return log.count("registered nvidia.com/gpu")


def test_plugin_registers_again_after_a_kubelet_restart(
    kube: Kubectl, namespace: str, gpu_node: str
) -> None:
    before = kube.get("node", gpu_node)["status"]["allocatable"].get("nvidia.com/gpu")
    assert before == GPUS_PER_NODE
    registered_before = registrations(kube, gpu_node)
    docker.docker("exec", gpu_node, "systemctl", "restart", "kubelet", timeout=60)

    def registered_again_and_ready() -> bool:
        status = kube.get("node", gpu_node)["status"]
        return (
            registrations(kube, gpu_node) > registered_before
            and any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
            and status["allocatable"].get("nvidia.com/gpu") == GPUS_PER_NODE
        )

    wait_until(
        f"the plugin to register again and {gpu_node} to report {GPUS_PER_NODE} GPUs",
        registered_again_and_ready,
    )
    # The node's status may still be the old kubelet's; only a plugin registered with the new
    # kubelet can allocate devices to a new pod (else: UnexpectedAdmissionError).
    kube.apply(pod_manifest("after-restart", namespace, gpus=1, tolerate_gpu=True))
    running_pod(kube, namespace, "after-restart")
    assert len(allocated_ids(kube, namespace, "after-restart")) == 1


def test_the_plugin_runs_the_image_built_last(kube: Kubectl) -> None:
    """`up` runs the plugin's image by the digest it pushed: a rebuilt image has a new one, so the
    DaemonSet's pods are replaced."""
    built = lock.read()[cluster.GPU_PLUGIN]
    plugin = kube.get("daemonset", "-n", "kube-system", "fake-gpu-plugin")
    (container,) = plugin["spec"]["template"]["spec"]["containers"]
    assert container["image"] == built.digest
    pods = kube.get("pods", "-n", "kube-system", "-l", PLUGIN_SELECTOR)["items"]
    assert pods
    for pod in pods:
        (spec,) = pod["spec"]["containers"]
        (status,) = pod["status"]["containerStatuses"]
        assert spec["image"] == built.digest
        assert status["ready"], status

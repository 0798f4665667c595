"""The GPU nodes advertise what their NVIDIA-format configs say (whole A100s, MIG slices, a
time-sliced T4), carry GFD labels, and each pod's nvidia-smi shows exactly what it got."""

from __future__ import annotations

import json

import pytest
from cluster_kube import (
    output_or_nothing,
    pod_manifest,
    running_pod,
    unschedulable_message,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families

from devenv import cluster
from fake_gpu.gfd_labels import gfd_labels
from fake_gpu.layout import NodeLayout
from tools import docker, grafana_dashboard
from tools.images import lock
from tools.kube import Kubectl

pytestmark = pytest.mark.cluster

PLUGIN_SELECTOR = "app.kubernetes.io/name=fake-gpu-plugin"
PRODUCT_LABEL = "nvidia.com/gpu.product"
MIG_RESOURCE = "nvidia.com/mig-1g.10gb"


def node_with(gpu_nodes: dict[str, NodeLayout], resource: str, *, shared: bool) -> str:
    """The GPU node whose `resource` is (or is not) time-sliced."""
    [name] = [
        name
        for name, layout in gpu_nodes.items()
        if any(r.name == resource and (r.replicas > 1) == shared for r in layout.resources)
    ]
    return name


def product(layout: NodeLayout) -> dict[str, str]:
    return {PRODUCT_LABEL: gfd_labels(layout)[PRODUCT_LABEL]}


def nvidia_smi_list(kube: Kubectl, namespace: str, pod: str) -> list[str]:
    return kube("exec", "-n", namespace, pod, "--", "nvidia-smi", "-L").splitlines()


def allocated_ids(kube: Kubectl, namespace: str, pod: str) -> list[str]:
    output = kube(
        "exec", "-n", namespace, pod, "--",
        "nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader",
    )  # fmt: skip
    return sorted(line.strip() for line in output.splitlines() if line.strip())


def test_each_gpu_node_advertises_its_resources_and_gfd_labels(
    kube: Kubectl, gpu_nodes: dict[str, NodeLayout], control_plane_node: str
) -> None:
    assert len(gpu_nodes) == 2
    for name, layout in gpu_nodes.items():
        node = kube.get("node", name)
        allocatable = node["status"]["allocatable"]
        advertised = {
            key: value for key, value in allocatable.items() if key.startswith("nvidia.com/")
        }
        assert advertised == {r.name: str(len(r.devices)) for r in layout.resources}, name
        assert gfd_labels(layout).items() <= node["metadata"]["labels"].items(), name
    control_plane = kube.get("node", control_plane_node)["status"]["allocatable"]
    assert not [key for key in control_plane if key.startswith("nvidia.com/")]


def test_whole_a100s_go_to_the_a100_node_and_are_counted(
    kube: Kubectl, namespace: str, gpu_nodes: dict[str, NodeLayout]
) -> None:
    a100 = node_with(gpu_nodes, "nvidia.com/gpu", shared=False)
    layout = gpu_nodes[a100]
    whole = sorted(device.id for device in layout.resource("nvidia.com/gpu").devices)
    selector = product(layout)
    kube.apply(
        pod_manifest("all", namespace, gpus=len(whole), tolerate_gpu=True, node_selector=selector)
    )
    pod = running_pod(kube, namespace, "all")
    assert pod["spec"]["nodeName"] == a100
    assert allocated_ids(kube, namespace, "all") == whole
    assert nvidia_smi_list(kube, namespace, "all")[0].startswith(
        f"GPU 0: {layout.model.name} (UUID: "
    )
    kube.apply(pod_manifest("more", namespace, gpus=1, tolerate_gpu=True, node_selector=selector))
    assert "Insufficient nvidia.com/gpu" in unschedulable_message(kube, namespace, "more")
    kube("delete", "pod", "-n", namespace, "all", "--wait=true")
    assert running_pod(kube, namespace, "more")["spec"]["nodeName"] == a100


def test_a_mig_slice_shows_as_a_mig_device_of_its_gpu(
    kube: Kubectl, namespace: str, gpu_nodes: dict[str, NodeLayout]
) -> None:
    a100 = node_with(gpu_nodes, MIG_RESOURCE, shared=False)
    slices = {part.id: part for part in gpu_nodes[a100].slices}
    kube.apply(pod_manifest("mig", namespace, gpus=1, gpu_resource=MIG_RESOURCE, tolerate_gpu=True))
    assert running_pod(kube, namespace, "mig")["spec"]["nodeName"] == a100
    gpu_line, mig_line = nvidia_smi_list(kube, namespace, "mig")
    mig_id = mig_line.rsplit("(UUID: ", 1)[1].rstrip(")")
    part = slices[mig_id]
    assert gpu_line == f"GPU 0: {gpu_nodes[a100].model.name} (UUID: {part.gpu.id})"
    assert mig_line == f"  MIG 1g.10gb     Device  0: (UUID: {mig_id})"


def test_the_time_sliced_t4_is_shared_by_several_pods(
    kube: Kubectl, namespace: str, gpu_nodes: dict[str, NodeLayout]
) -> None:
    t4 = node_with(gpu_nodes, "nvidia.com/gpu", shared=True)
    layout = gpu_nodes[t4]
    [resource] = layout.resources
    for name in ("one", "two"):
        kube.apply(
            pod_manifest(name, namespace, gpus=1, tolerate_gpu=True, node_selector=product(layout))
        )
    for name in ("one", "two"):
        assert running_pod(kube, namespace, name)["spec"]["nodeName"] == t4
        assert nvidia_smi_list(kube, namespace, name) == [
            f"GPU 0: {layout.model.name} (UUID: {layout.gpus[0].id})",
            f"  Shared: time-slicing, {resource.replicas} replicas of this GPU "
            "(other containers may use it too)",
        ]


def plugin_pod(kube: Kubectl, node: str) -> str:
    pods = kube.get(
        "pods", "-n", "kube-system", "-l", PLUGIN_SELECTOR,
        "--field-selector", f"spec.nodeName={node}",
    )["items"]  # fmt: skip
    assert len(pods) == 1, f"expected one plugin pod on {node}, found {len(pods)}"
    return pods[0]["metadata"]["name"]


def test_metrics_name_the_pod_holding_a_gpu(
    kube: Kubectl, namespace: str, gpu_nodes: dict[str, NodeLayout]
) -> None:
    a100 = node_with(gpu_nodes, MIG_RESOURCE, shared=False)
    kube.apply(
        pod_manifest("watched", namespace, gpus=1, gpu_resource=MIG_RESOURCE, tolerate_gpu=True)
    )
    running_pod(kube, namespace, "watched")
    path = f"/api/v1/namespaces/kube-system/pods/{plugin_pod(kube, a100)}:9400/proxy/metrics"

    def series_of_the_pod() -> list[str]:
        text = kube("get", "--raw", path)
        return [
            line
            for line in text.splitlines()
            if line.startswith("DCGM_FI_DEV_FB_FREE{")
            and f'namespace="{namespace}"' in line
            and 'pod="watched"' in line
        ]

    [line] = wait_until("the plugin's metrics to name the pod", series_of_the_pod)
    assert 'GPU_I_PROFILE="1g.10gb"' in line
    assert f'Hostname="{a100}"' in line


def test_every_gpu_metric_of_the_dashboard_is_served_by_each_gpu_node(
    kube: Kubectl, gpu_nodes: dict[str, NodeLayout]
) -> None:
    """The Grafana dashboard's GPU queries (docs/monitoring/grafana-dashboard.json) name only
    metrics the device plugin's exporter serves, on every kind of GPU node."""
    wanted = grafana_dashboard.names_by_source(grafana_dashboard.load())["gpu"]
    assert wanted, "the dashboard has no GPU panel"
    for node in gpu_nodes:
        path = f"/api/v1/namespaces/kube-system/pods/{plugin_pod(kube, node)}:9400/proxy/metrics"
        served = {
            sample.name
            for family in text_string_to_metric_families(kube("get", "--raw", path))
            for sample in family.samples
        }
        assert wanted <= served, (node, sorted(wanted - served))


def registrations(kube: Kubectl, node: str) -> int:
    """How often the plugin on the node has registered its GPUs with a kubelet (from its log)."""
    # Logs come through the kubelet: while it restarts there are none to read (count as none).
    log = output_or_nothing(kube, "logs", "-n", "kube-system", plugin_pod(kube, node))
    return log.count("registered nvidia.com/gpu ")


def test_plugin_registers_every_resource_again_after_a_kubelet_restart(
    kube: Kubectl, namespace: str, gpu_nodes: dict[str, NodeLayout]
) -> None:
    node = node_with(gpu_nodes, MIG_RESOURCE, shared=False)
    wanted = {r.name: str(len(r.devices)) for r in gpu_nodes[node].resources}
    registered_before = registrations(kube, node)
    docker.docker("exec", node, "systemctl", "restart", "kubelet", timeout=60)

    def registered_again_and_ready() -> bool:
        status = kube.get("node", node)["status"]
        return (
            registrations(kube, node) > registered_before
            and any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
            and wanted.items() <= status["allocatable"].items()
        )

    wait_until(
        f"the plugin to register again on {node}: {json.dumps(wanted)}", registered_again_and_ready
    )
    # Only a plugin registered with the new kubelet can allocate to a new pod.
    kube.apply(
        pod_manifest("after", namespace, gpus=1, gpu_resource=MIG_RESOURCE, tolerate_gpu=True)
    )
    running_pod(kube, namespace, "after")
    assert len(nvidia_smi_list(kube, namespace, "after")) == 2


def test_pods_without_the_gpu_toleration_never_land_on_a_gpu_node(
    kube: Kubectl, namespace: str, gpu_nodes: dict[str, NodeLayout]
) -> None:
    for number, node in enumerate(gpu_nodes):
        name = f"pinned-{number}"
        kube.apply(pod_manifest(name, namespace, node_selector={"kubernetes.io/hostname": node}))
        assert "untolerated taint" in unschedulable_message(kube, namespace, name)
        taints = kube.get("node", node)["spec"].get("taints", [])
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in taints
    for index in range(4):
        kube.apply(pod_manifest(f"cpu-{index}", namespace))
    for index in range(4):
        assert running_pod(kube, namespace, f"cpu-{index}")["spec"]["nodeName"] not in gpu_nodes


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

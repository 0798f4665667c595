"""The default StorageClass provisions volumes (the hub's database and user homes need it), and a
volume follows its pod to any node (a home used by a GPU lab, then by a CPU lab)."""

from __future__ import annotations

from typing import Any

import pytest
from cluster_kube import pod_manifest, running_pod

from tools.kube import Kubectl

pytestmark = pytest.mark.cluster


def claim(kube: Kubectl, namespace: str, name: str) -> None:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Mi"}},
            },
        }
    )


def pod_with_volume(name: str, namespace: str, claim_name: str, **placement: Any) -> dict:
    pod = pod_manifest(name, namespace, **placement)
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]
    return pod


def test_a_claim_on_the_default_storage_class_is_bound_and_writable(
    kube: Kubectl, namespace: str
) -> None:
    classes = kube.get("storageclass")["items"]
    default = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    assert default == ["standard"]

    claim(kube, namespace, "data")
    kube.apply(pod_with_volume("writer", namespace, "data"))
    running_pod(kube, namespace, "writer")
    kube("exec", "-n", namespace, "writer", "--", "sh", "-c", "echo kept > /data/file")
    assert kube("exec", "-n", namespace, "writer", "--", "cat", "/data/file").strip() == "kept"
    bound = kube.get("pvc", "-n", namespace, "data")
    assert bound["status"]["phase"] == "Bound"


def test_a_volume_written_on_one_node_is_read_on_the_other(
    kube: Kubectl, namespace: str, gpu_node: str, control_plane_node: str
) -> None:
    claim(kube, namespace, "home")
    on_gpu_node = {"node_selector": {"kubernetes.io/hostname": gpu_node}, "tolerate_gpu": True}
    kube.apply(pod_with_volume("gpu-lab", namespace, "home", **on_gpu_node))
    running_pod(kube, namespace, "gpu-lab")
    kube("exec", "-n", namespace, "gpu-lab", "--", "sh", "-c", "echo trained > /data/model")
    kube("delete", "pod", "-n", namespace, "gpu-lab", "--wait=true")

    volume = kube.get("pv", kube.get("pvc", "-n", namespace, "home")["spec"]["volumeName"])
    assert "nodeAffinity" not in volume["spec"], "a node-bound volume keeps its pod on one node"
    on_control_plane = {"node_selector": {"kubernetes.io/hostname": control_plane_node}}
    kube.apply(pod_with_volume("cpu-lab", namespace, "home", **on_control_plane))
    running_pod(kube, namespace, "cpu-lab")
    assert kube("exec", "-n", namespace, "cpu-lab", "--", "cat", "/data/model").strip() == (
        "trained"
    )

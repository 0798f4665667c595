"""The node CPU labs run on has room for a lecture's labs (devenv/README.md, "Nodes and ports")."""

from __future__ import annotations

import pytest
import yaml

from devenv import cluster_config
from tools.kube import Kubectl

pytestmark = pytest.mark.cluster
KUBELETS_DEFAULT_MAX_PODS = 110


def configured_max_pods() -> int:
    """maxPods of kind-config.yaml's KubeletConfiguration patch."""
    for patch in cluster_config.load().kind_config["kubeadmConfigPatches"]:
        document = yaml.safe_load(patch)
        if document.get("kind") == "KubeletConfiguration" and "maxPods" in document:
            return int(document["maxPods"])
    raise AssertionError("kind-config.yaml sets no maxPods")


def test_the_control_plane_node_takes_more_pods_than_kubelets_default(kube: Kubectl) -> None:
    wanted = configured_max_pods()
    assert wanted > KUBELETS_DEFAULT_MAX_PODS
    nodes = kube.get("nodes", "-l", "node-role.kubernetes.io/control-plane")["items"]
    assert [int(node["status"]["capacity"]["pods"]) for node in nodes] == [wanted]

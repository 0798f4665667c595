"""The node CPU labs run on has room for a lecture's labs (devenv/README.md, "Nodes and ports")."""

from __future__ import annotations

import pytest

from devenv import cluster
from tools.kube import Kubectl

pytestmark = pytest.mark.cluster


def test_the_control_plane_node_takes_more_pods_than_kubelets_default(kube: Kubectl) -> None:
    nodes = kube.get("nodes", "-l", "node-role.kubernetes.io/control-plane")["items"]
    assert [node["status"]["capacity"]["pods"] for node in nodes] == [
        str(cluster.LAB_NODE_MAX_PODS)
    ]

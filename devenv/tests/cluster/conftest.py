"""Fixtures for tests against the local kind cluster (`python -m devenv.cluster up`).

A test that finds no cluster fails: a missing cluster is a broken environment, not a reason to
skip. Each test gets its own namespace, deleted afterwards.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv import cluster, cluster_config
from fake_gpu.layout import NodeLayout
from tools.bootstrap.run import RunError
from tools.kube import Kubectl

# The chart's NetworkPolicies are tested here, beside the enforcement test, rendered by the
# chart tests' own helpers (helm/tests/chart_render.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "helm" / "tests"))


@pytest.fixture(scope="session")
def kube() -> Kubectl:
    kubectl = cluster_config.current().kubectl
    try:
        kubectl("get", "nodes", timeout=60)
    except RunError as error:
        pytest.fail(
            f"no kind cluster reachable through context {kubectl.context!r} "
            f"({error}); create it with `python -m devenv.cluster up`"
        )
    return kubectl


@pytest.fixture(scope="session")
def gpu_nodes(kube: Kubectl) -> dict[str, NodeLayout]:
    """Each GPU node and what its NVIDIA-format configs say it advertises."""
    nodes = kube.get("nodes", "-l", f"{cluster_config.GPU_NODE_LABEL}=true")["items"]
    assert nodes, "no GPU node"
    return {node["metadata"]["name"]: cluster.expected_layout(node) for node in nodes}


@pytest.fixture(scope="session")
def gpu_node(gpu_nodes: dict[str, NodeLayout]) -> str:
    """A GPU node (the first by name: the A100 node)."""
    return min(gpu_nodes)


@pytest.fixture(scope="session")
def control_plane_node(kube: Kubectl) -> str:
    nodes = kube.get("nodes", "-l", "node-role.kubernetes.io/control-plane")["items"]
    assert len(nodes) == 1
    return nodes[0]["metadata"]["name"]


@pytest.fixture
def namespace(kube: Kubectl) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    kube("create", "namespace", name)
    yield name
    kube("delete", "namespace", name, "--wait=false")

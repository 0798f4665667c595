"""Fixtures for tests against the local kind cluster (`python -m devenv.cluster up`).

A test that finds no cluster fails: a missing cluster is a broken environment, not a reason to
skip. Each test gets its own namespace, deleted afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_kube import Kube

from devenv import cluster_config
from tools import binaries

# The chart's NetworkPolicies are tested here, beside the enforcement test, rendered by the
# chart tests' own helpers (helm/tests/chart_render.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "helm" / "tests"))


@pytest.fixture(scope="session")
def kube() -> Kube:
    binary = str(binaries.ensure("kubectl"))
    context = cluster_config.kube_context()
    probe = subprocess.run(
        [binary, "--context", context, "get", "nodes"], capture_output=True, text=True, timeout=60
    )
    if probe.returncode != 0:
        pytest.fail(
            f"no kind cluster reachable through context {context!r} "
            f"({probe.stderr.strip()}); create it with `python -m devenv.cluster up`"
        )
    return Kube(binary, context)


@pytest.fixture(scope="session")
def gpu_node(kube: Kube) -> str:
    nodes = kube.get("nodes", "-l", f"{cluster_config.GPU_NODE_LABEL}=true")["items"]
    assert len(nodes) == 1, f"expected one GPU node, found {[n['metadata']['name'] for n in nodes]}"
    return nodes[0]["metadata"]["name"]


@pytest.fixture(scope="session")
def control_plane_node(kube: Kube) -> str:
    nodes = kube.get("nodes", "-l", "node-role.kubernetes.io/control-plane")["items"]
    assert len(nodes) == 1
    return nodes[0]["metadata"]["name"]


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    kube.run("create", "namespace", name)
    yield name
    kube.run("delete", "namespace", name, "--wait=false")

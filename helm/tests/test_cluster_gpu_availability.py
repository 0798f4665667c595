"""The form's free GPUs, read from the real kind cluster, are what kubectl says of each node.

The reader goes through `kubectl proxy` (plain HTTP with the kubeconfig's rights, as the hub's
reader goes to the API server with its service account's). The expected counts come from
kubectl itself: each node's allocatable GPUs (`get nodes`) minus the requests `describe node`
reports as allocated, so the test holds whatever GPUs the dev cluster's nodes advertise.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
from collections.abc import Iterator

import pytest

from devenv import cluster_config
from hubconfig import kube_api
from hubconfig.gpu_availability import GpuAvailability, GpuCount
from tools.kube import Kubectl

GPU_PREFIX = "nvidia.com/"
PROXY_WAIT_S = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def kubectl() -> Kubectl:
    return cluster_config.current().kubectl


@pytest.fixture
def proxied_api(kubectl: Kubectl) -> Iterator[str]:
    port = free_port()
    proxy = subprocess.Popen(
        kubectl.command("proxy", "--address", "127.0.0.1", "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        kube_api.wait_until_answering(
            kube_api.version_probe(url), "kubectl proxy", wait_s=PROXY_WAIT_S
        )
        yield url
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def allocated(kubectl: Kubectl, node: str) -> dict[str, int]:
    """GPU requests kubectl reports as allocated on `node` ("Allocated resources")."""
    described = kubectl("describe", "node", node)
    section = described.split("Allocated resources:", 1)[1].split("Events:", 1)[0]
    rows = re.findall(r"^\s+(nvidia\.com/\S+)\s+(\d+)\s+(\d+)\s*$", section, flags=re.MULTILINE)
    return {resource: int(requests) for resource, requests, _limits in rows}


def kubectl_counts(kubectl: Kubectl) -> dict[tuple[str, str], GpuCount]:
    counts = {}
    for node in kubectl.get("nodes")["items"]:
        name = node["metadata"]["name"]
        held = allocated(kubectl, name)
        for resource, value in node["status"]["allocatable"].items():
            if resource.startswith(GPU_PREFIX):
                total = int(value)
                counts[(name, resource)] = GpuCount(max(0, total - held.get(resource, 0)), total)
    return counts


@pytest.mark.cluster
async def test_free_gpus_per_node_are_what_kubectl_reports(
    kubectl: Kubectl, proxied_api: str
) -> None:
    for _attempt in range(3):
        before = kubectl_counts(kubectl)
        cluster = await GpuAvailability(kube_api.json_reader(proxied_api), cache_s=0).current()
        after = kubectl_counts(kubectl)
        if before == after:
            break
        await asyncio.sleep(2)  # a lab started or stopped meanwhile: read again
    assert before, "the dev cluster's nodes advertise no nvidia.com/ resources"
    assert cluster is not None, "the reader could not read the cluster"
    read = {
        (node, resource): cluster.count(resource, {"kubernetes.io/hostname": node})
        for node, resource in before
    }
    assert read == before

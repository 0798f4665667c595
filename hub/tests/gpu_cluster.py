"""GPU test data: the chart values of three GPU types (as the dev cluster has them) and the
Kubernetes API's node and pod lists of a cluster with GPUs, shaped as the API returns them."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hubconfig.gpu_availability import NODES_PATH, PODS_PATH

GPU_TYPES = {
    "a100": {
        "displayName": "NVIDIA A100 80GB",
        "resourceName": "nvidia.com/gpu",
        "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
    },
    "mig-1g-10gb": {
        "displayName": "A100 MIG slice 1g.10gb",
        "resourceName": "nvidia.com/mig-1g.10gb",
        "tolerations": [{"key": "mig", "operator": "Exists", "effect": "NoSchedule"}],
        "description": "A seventh of an A100.",
    },
    "t4-shared": {
        "displayName": "NVIDIA T4, time-sliced",
        "resourceName": "nvidia.com/gpu",
        "nodeSelector": {"nvidia.com/gpu.product": "Tesla-T4-SHARED"},
    },
}

# The GPU lab of the test profiles, offering all three types.
TYPED_GPU_PROFILE = {
    "slug": "gpu",
    "displayName": "GPU lab",
    "cpu": {"limit": 8},
    "memory": {"limit": "16G"},
    "gpus": 2,
    "gpuTypes": ["a100", "mig-1g-10gb", "t4-shared"],
    "allowedGroups": ["gpu", "instructor"],
}


def node(name: str, labels: dict[str, str], allocatable: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110", **allocatable}},
    }


def pod(
    name: str,
    node_name: str | None,
    limits: dict[str, str],
    phase: str = "Running",
    init_limits: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A pod as the API returns it: Kubernetes copies an extended resource's limit into its
    requests when only the limit is given, so both are there."""
    container = {"name": "main", "resources": {"limits": limits, "requests": dict(limits)}}
    spec: dict[str, Any] = {"containers": [container]}
    if node_name:
        spec["nodeName"] = node_name
    if init_limits:
        spec["initContainers"] = [{"name": "init", "resources": {"limits": init_limits}}]
    return {"metadata": {"name": name, "namespace": "x"}, "spec": spec, "status": {"phase": phase}}


GPU_NODE = {"nvidia.com/gpu.present": "true"}
NODES = {
    "kind": "NodeList",
    "items": [
        node("control", {}, {}),
        node(
            "a100-node",
            {**GPU_NODE, "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
            {"nvidia.com/gpu": "2", "nvidia.com/mig-1g.10gb": "7"},
        ),
        node(
            "t4-node",
            {**GPU_NODE, "nvidia.com/gpu.product": "Tesla-T4-SHARED"},
            {"nvidia.com/gpu": "4"},
        ),
    ],
}
PODS = {
    "kind": "PodList",
    "items": [
        pod("lab-a", "a100-node", {"nvidia.com/gpu": "1"}),
        pod("lab-slices", "a100-node", {"nvidia.com/mig-1g.10gb": "2", "memory": "1Gi"}),
        pod("lab-t4", "t4-node", {"nvidia.com/gpu": "1"}),
        pod("done", "t4-node", {"nvidia.com/gpu": "3"}, phase="Succeeded"),
        pod("pending", None, {"nvidia.com/gpu": "1"}, phase="Pending"),
        pod("init-heavy", "t4-node", {}, init_limits={"nvidia.com/gpu": "2"}),
    ],
}


@contextmanager
def serving_api() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server answering NODES and PODS as the API server does, and the paths asked."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            answers = {NODES_PATH: NODES, PODS_PATH: PODS}
            if self.path not in answers:
                self.send_error(403)
                return
            body = json.dumps(answers[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()

"""GFD-style node labels (through a Kubernetes API on loopback) and dcgm-exporter-style metrics."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_gpu_nodes import A100_NODE, CONFIG_DIR, T4_NODE, chart_layout, node_labels

from fake_gpu.__main__ import node_layout, parse_arguments, publish_labels
from fake_gpu.gfd_labels import gfd_labels, label_patch
from fake_gpu.kube import KubeError, NodeApi
from fake_gpu.metrics import MetricsServer, render
from fake_gpu.pod_owners import Owner

TOKEN = "test-token"


class FakeApiServer:
    """GET and merge-PATCH of nodes, as the API server answers them; records each request."""

    def __init__(self, nodes: dict[str, dict[str, str]]) -> None:
        self.nodes = nodes
        self.requests: list[tuple[str, str, str | None, dict | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _node(self) -> str | None:
                name = self.path.removeprefix("/api/v1/nodes/")
                return name if name in fake.nodes else None

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, body: dict | None) -> None:
                fake.requests.append(
                    (self.command, self.path, self.headers.get("Content-Type"), body)
                )
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._reply(401, {"reason": "Unauthorized"})
                    return
                node = self._node()
                if node is None:
                    self._reply(404, {"reason": "NotFound"})
                    return
                if body is not None:
                    for key, value in body["metadata"]["labels"].items():
                        if value is None:
                            fake.nodes[node].pop(key, None)
                        else:
                            fake.nodes[node][key] = value
                self._reply(200, {"metadata": {"name": node, "labels": fake.nodes[node]}})

            def do_GET(self) -> None:
                self._handle(None)

            def do_PATCH(self) -> None:
                length = int(self.headers["Content-Length"])
                self._handle(json.loads(self.rfile.read(length)))

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api_server() -> Iterator[FakeApiServer]:
    nodes = {name: dict(labels) | {"stale": "x"} for name, labels in node_labels().items()}
    nodes[A100_NODE]["nvidia.com/mig-2g.20gb.count"] = "3"  # left from an earlier layout
    server = FakeApiServer(nodes)
    yield server
    server.server.shutdown()


def test_gfd_labels_of_the_dev_nodes():
    a100 = gfd_labels(chart_layout(A100_NODE))
    assert a100["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    assert a100["nvidia.com/mig.strategy"] == "mixed"
    assert a100["nvidia.com/mig-1g.10gb.count"] == str(len(chart_layout(A100_NODE).slices))
    assert a100["nvidia.com/gpu.sharing-strategy"] == "none"
    t4_layout = chart_layout(T4_NODE)
    t4 = gfd_labels(t4_layout)
    assert t4["nvidia.com/gpu.product"] == "Tesla-T4-SHARED"
    assert t4["nvidia.com/gpu.replicas"] == str(t4_layout.resources[0].replicas)
    assert t4["nvidia.com/gpu.sharing-strategy"] == "time-slicing"
    assert t4["nvidia.com/gpu.memory"] == str(t4_layout.model.memory_mib)
    assert t4["nvidia.com/gpu.count"] == str(len(t4_layout.gpus))
    assert not any(key.startswith("nvidia.com/mig-") for key in t4)


def test_label_patch_removes_stale_discovery_labels_only():
    current = {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/device-plugin.config": "a",
        "nvidia.com/mig-2g.20gb.count": "3",
        "kubernetes.io/hostname": "n",
        "nvidia.com/gpu.count": "2",
    }
    patch = label_patch(current, {"nvidia.com/gpu.count": "2", "nvidia.com/gpu.replicas": "1"})
    assert patch == {"nvidia.com/mig-2g.20gb.count": None, "nvidia.com/gpu.replicas": "1"}


def test_the_plugin_reads_its_config_labels_and_sets_gfd_labels(api_server: FakeApiServer):
    api = NodeApi(api_server.url, TOKEN, None)
    arguments = parse_arguments(
        ["serve", "--node-name", A100_NODE, "--config-dir", str(CONFIG_DIR)]
    )
    layout = node_layout(arguments, api)
    assert {r.name for r in layout.resources} == {"nvidia.com/gpu", "nvidia.com/mig-1g.10gb"}
    publish_labels(api, layout)
    labels = api_server.nodes[A100_NODE]
    assert gfd_labels(layout).items() <= labels.items()
    assert "nvidia.com/mig-2g.20gb.count" not in labels
    assert labels["stale"] == "x"  # not a discovery label
    [patch] = [r for r in api_server.requests if r[0] == "PATCH"]
    assert patch[1] == f"/api/v1/nodes/{A100_NODE}"
    assert patch[2] == "application/merge-patch+json"
    assert api_server.nodes[T4_NODE].get("nvidia.com/gpu.product") is None


def test_api_errors_are_one_line(api_server: FakeApiServer):
    with pytest.raises(KubeError, match=r"GET /api/v1/nodes/ghost: HTTP 404"):
        NodeApi(api_server.url, TOKEN, None).node_labels("ghost")
    with pytest.raises(KubeError, match="HTTP 401"):
        NodeApi(api_server.url, "wrong", None).node_labels(A100_NODE)
    with pytest.raises(KubeError, match=r"nodes/a%2Fb"):
        NodeApi(api_server.url, TOKEN, None).node_labels("a/b")


SERIES = re.compile(r"^(DCGM_FI_DEV_\w+)\{(.*)\} (\d+)$")


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], int]]:
    found = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, labels, value = SERIES.fullmatch(line).groups()
        found.append((name, dict(re.findall(r'(\w+)="([^"]*)"', labels)), int(value)))
    return found


def test_metrics_name_the_pod_of_each_allocated_device():
    layout = chart_layout(A100_NODE)
    part = layout.slices[2]
    whole = layout.resource("nvidia.com/gpu").devices[0]
    owners = {
        ("nvidia.com/mig-1g.10gb", part.id): Owner("jupyterhub", "jupyter-alice", "notebook"),
        ("nvidia.com/gpu", whole.id): Owner("jupyterhub", "jupyter-bob", "notebook"),
    }
    series = parse_metrics(render(layout, owners))
    names = {name for name, _, _ in series}
    assert names == {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"}
    free = [(labels, value) for name, labels, value in series if name == "DCGM_FI_DEV_FB_FREE"]
    # One series per whole GPU and per MIG slice.
    assert len(free) == len(layout.resource("nvidia.com/gpu").devices) + len(layout.slices)
    [alice] = [labels for labels, _ in free if labels.get("pod") == "jupyter-alice"]
    assert alice["UUID"] == part.gpu.id
    assert alice["GPU_I_PROFILE"] == "1g.10gb"
    assert alice["GPU_I_ID"] == str(part.number)
    assert alice["namespace"] == "jupyterhub"
    assert alice["container"] == "notebook"
    assert alice["Hostname"] == A100_NODE
    assert alice["modelName"] == "NVIDIA A100-SXM4-80GB"
    assert alice["device"] == f"nvidia{part.gpu.index}"
    [(bob, bob_free)] = [(s, v) for s, v in free if s.get("pod") == "jupyter-bob"]
    assert bob["UUID"] == whole.gpu.id and bob["gpu"] == str(whole.gpu.index)
    assert bob_free == layout.model.memory_mib
    unowned = [labels for labels, _ in free if "pod" not in labels]
    assert len(unowned) == len(free) - 2


def test_each_replica_holder_of_a_shared_gpu_gets_its_series():
    layout = chart_layout(T4_NODE)
    [resource] = layout.resources
    owners = {
        (resource.name, resource.devices[n].id): Owner("jupyterhub", f"jupyter-{n}", "notebook")
        for n in (0, 3)
    }
    util = [s for name, s, _ in parse_metrics(render(layout, owners)) if name.endswith("UTIL")]
    assert sorted(labels["pod"] for labels in util) == ["jupyter-0", "jupyter-3"]
    assert {labels["UUID"] for labels in util} == {layout.gpus[0].id}


def test_metrics_are_served_on_http():
    layout = chart_layout(T4_NODE)
    server = MetricsServer(layout, dict, 0, "127.0.0.1")
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics") as reply:
            assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert parse_metrics(reply.read().decode())
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/other")
        assert missing.value.code == 404
    finally:
        server.stop()

"""GPU metrics as NVIDIA's dcgm-exporter serves them (port 9400, /metrics): the same metric names
and labels, one series per GPU or MIG slice and per container using it, so dashboards and alerts
written for dcgm-exporter work against the dev cluster. Utilisation is 0 and no memory is used:
the GPUs are fake; the point is which pod holds which device."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc

from fake_gpu.layout import NodeLayout
from fake_gpu.pod_owners import Owner, device_owners, list_pod_resources

log = logging.getLogger(__name__)

METRICS = (
    ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB)."),
)

OwnersLookup = Callable[[], dict[tuple[str, str], Owner]]


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def owners_by_visible_id(
    layout: NodeLayout, owners: dict[tuple[str, str], Owner]
) -> dict[str, list[Owner]]:
    """GPU or slice id -> the containers holding it (several for the replicas of a shared GPU)."""
    held: dict[str, list[Owner]] = {}
    for resource in layout.resources:
        for device in resource.devices:
            owner = owners.get((resource.name, device.id))
            if owner is not None and owner not in held.setdefault(device.visible_id, []):
                held[device.visible_id].append(owner)
    return held


def render(layout: NodeLayout, owners: dict[tuple[str, str], Owner]) -> str:
    """The /metrics page in Prometheus' text format."""
    held = owners_by_visible_id(layout, owners)
    # (labels, total MiB) of each GPU not split into slices, and of each MIG slice.
    rows: list[tuple[dict[str, str], str, int]] = []
    for gpu, mig in zip(layout.gpus, layout.mig, strict=True):
        base = {
            "gpu": str(gpu.index),
            "UUID": gpu.id,
            "device": f"nvidia{gpu.index}",
            "modelName": layout.model.name,
        }
        if not mig.mig_enabled:
            rows.append((base, gpu.id, layout.model.memory_mib))
        for part in (s for s in layout.slices if s.gpu == gpu):
            labels = base | {"GPU_I_PROFILE": part.profile.name, "GPU_I_ID": str(part.number)}
            rows.append((labels, part.id, part.profile.memory_mib))
    lines = []
    for name, help_text in METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for labels, visible_id, total_mib in rows:
            value = {"DCGM_FI_DEV_FB_FREE": total_mib}.get(name, 0)
            for owner in held.get(visible_id) or [None]:
                series = labels | {"Hostname": layout.node_name}
                if owner is not None:
                    series |= {
                        "container": owner.container,
                        "namespace": owner.namespace,
                        "pod": owner.pod,
                    }
                text = ",".join(f'{key}="{escape(value)}"' for key, value in series.items())
                lines.append(f"{name}{{{text}}} {value}")
    return "\n".join(lines) + "\n"


def kubelet_owners(socket: Path | None) -> OwnersLookup:
    """Asks the kubelet's PodResources API on each scrape; no owners when it cannot answer."""

    def lookup() -> dict[tuple[str, str], Owner]:
        if socket is None or not socket.exists():
            return {}
        try:
            return device_owners(list_pod_resources(socket))
        except grpc.RpcError as error:
            log.warning("metrics: the kubelet's PodResources List failed: %s", error.code().name)
            return {}

    return lookup


class MetricsServer:
    def __init__(self, layout: NodeLayout, owners: OwnersLookup, port: int, host: str = "") -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics is served here")
                    return
                body = render(layout, owners()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # a scrape every few seconds would drown the plugin's own log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()
        log.info("serving GPU metrics on :%d/metrics", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

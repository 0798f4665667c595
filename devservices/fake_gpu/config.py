"""The plugin's settings: command-line flags, each defaulting to an environment variable, and the
node's layout (devices and resources) made from NVIDIA-format config files (node_setup.py)."""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from fake_gpu.layout import NodeLayout, Resource

API_VERSION = "v1beta1"
KUBELET_SOCKET_NAME = "kubelet.sock"
# Every resource's socket is fake-<resource>.sock; the probe checks each of them.
SOCKET_GLOB = "fake-*.sock"
METRICS_PORT = 9400  # dcgm-exporter's


@dataclass(frozen=True)
class PluginConfig:
    layout: NodeLayout
    plugin_dir: Path = Path("/var/lib/kubelet/device-plugins")
    # A host folder the plugin copies its fake nvidia-smi to; containers mount it from there.
    host_bin_dir: Path = Path("/var/lib/fake-gpu")
    container_nvidia_smi: str = "/usr/bin/nvidia-smi"
    # The kubelet's PodResources API, to log which pod got an allocation (None: do not ask).
    pod_resources_socket: Path | None = Path("/var/lib/kubelet/pod-resources/kubelet.sock")
    # Optional: a file listing device ids (one per line) to report as Unhealthy.
    unhealthy_file: Path | None = None
    poll_interval_s: float = 1.0

    @property
    def node_name(self) -> str:
        return self.layout.node_name

    def socket_path(self, resource: Resource) -> Path:
        return self.plugin_dir / resource.socket_name

    @property
    def kubelet_socket(self) -> Path:
        return self.plugin_dir / KUBELET_SOCKET_NAME

    @property
    def host_nvidia_smi(self) -> Path:
        return self.host_bin_dir / "nvidia-smi"


DEFAULT_PLUGIN_DIR = Path("/var/lib/kubelet/device-plugins")


def add_plugin_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plugin-dir",
        type=Path,
        default=os.environ.get("FAKE_GPU_PLUGIN_DIR", str(DEFAULT_PLUGIN_DIR)),
        help="the kubelet's device-plugin folder "
        f"(env FAKE_GPU_PLUGIN_DIR; default {DEFAULT_PLUGIN_DIR})",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `serve` flags; every default comes from the environment (the DaemonSet sets it there)."""
    env = os.environ.get
    add_plugin_dir_argument(parser)
    parser.add_argument(
        "--node-name",
        default=env("NODE_NAME") or socket.gethostname(),
        help="this node: its hardware entry, its labels, its device ids (env NODE_NAME)",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=env("FAKE_GPU_CONFIG_DIR", "/etc/fake-gpu"),
        help="folder with device-plugin/<name>, mig-parted/config.yaml and hardware/hardware.yaml "
        "(env FAKE_GPU_CONFIG_DIR; default /etc/fake-gpu)",
    )
    parser.add_argument(
        "--device-plugin-config",
        default=env("FAKE_GPU_DEVICE_PLUGIN_CONFIG") or None,
        help="device-plugin config name when there is no Kubernetes API to read the node label "
        "nvidia.com/device-plugin.config from (env FAKE_GPU_DEVICE_PLUGIN_CONFIG)",
    )
    parser.add_argument(
        "--mig-config",
        default=env("FAKE_GPU_MIG_CONFIG") or None,
        help="mig-parted config name when there is no Kubernetes API to read the node label "
        "nvidia.com/mig.config from (env FAKE_GPU_MIG_CONFIG)",
    )
    parser.add_argument(
        "--host-bin-dir",
        type=Path,
        default=env("FAKE_GPU_HOST_BIN_DIR", "/var/lib/fake-gpu"),
        help="host folder (a hostPath, same path inside this container) for the fake nvidia-smi "
        "(env FAKE_GPU_HOST_BIN_DIR; default /var/lib/fake-gpu)",
    )
    parser.add_argument(
        "--pod-resources-socket",
        type=Path,
        default=env("FAKE_GPU_POD_RESOURCES_SOCKET", "/var/lib/kubelet/pod-resources/kubelet.sock"),
        help="the kubelet's PodResources socket, to name the pod of each allocation "
        "(env FAKE_GPU_POD_RESOURCES_SOCKET)",
    )
    parser.add_argument(
        "--unhealthy-file",
        type=Path,
        default=env("FAKE_GPU_UNHEALTHY_FILE") or None,
        help="file of device ids (one per line) to report Unhealthy (env FAKE_GPU_UNHEALTHY_FILE)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(env("FAKE_GPU_METRICS_PORT", str(METRICS_PORT))),
        help=f"dcgm-exporter-style /metrics port, 0 for none (default {METRICS_PORT})",
    )


def from_arguments(arguments: argparse.Namespace, layout: NodeLayout) -> PluginConfig:
    return PluginConfig(
        layout=layout,
        plugin_dir=arguments.plugin_dir,
        host_bin_dir=arguments.host_bin_dir,
        pod_resources_socket=arguments.pod_resources_socket,
        unhealthy_file=arguments.unhealthy_file,
    )

"""The plugin's settings: command-line flags, each defaulting to an environment variable."""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass
from pathlib import Path

RESOURCE_NAME = "nvidia.com/gpu"
API_VERSION = "v1beta1"
KUBELET_SOCKET_NAME = "kubelet.sock"
SOCKET_NAME = "fake-nvidia-gpu.sock"
MAX_DEVICES = 64


@dataclass(frozen=True)
class PluginConfig:
    node_name: str
    device_count: int = 4
    model: str = "NVIDIA A100-SXM4-40GB (fake)"
    memory_mib: int = 40960
    plugin_dir: Path = Path("/var/lib/kubelet/device-plugins")
    socket_name: str = SOCKET_NAME
    # A host folder the plugin copies its fake nvidia-smi to; containers mount it from there.
    host_bin_dir: Path = Path("/var/lib/fake-gpu")
    container_nvidia_smi: str = "/usr/bin/nvidia-smi"
    # The kubelet's PodResources API, to log which pod got an allocation (None: do not ask).
    pod_resources_socket: Path | None = Path("/var/lib/kubelet/pod-resources/kubelet.sock")
    # Optional: a file listing device ids (one per line) to report as Unhealthy.
    unhealthy_file: Path | None = None
    poll_interval_s: float = 1.0

    @property
    def socket_path(self) -> Path:
        return self.plugin_dir / self.socket_name

    @property
    def kubelet_socket(self) -> Path:
        return self.plugin_dir / KUBELET_SOCKET_NAME

    @property
    def host_nvidia_smi(self) -> Path:
        return self.host_bin_dir / "nvidia-smi"


def device_count(text: str) -> int:
    """argparse type: a whole number of devices, with an error that says what is allowed."""
    try:
        count = int(text)
    except ValueError:
        count = -1
    if not 1 <= count <= MAX_DEVICES:
        raise argparse.ArgumentTypeError(
            f"the device count must be a whole number from 1 to {MAX_DEVICES}, got {text!r} "
            "(set --devices or FAKE_GPU_COUNT)"
        )
    return count


def memory_mib(text: str) -> int:
    try:
        mib = int(text)
    except ValueError:
        mib = 0
    if mib < 1:
        raise argparse.ArgumentTypeError(
            f"the memory per device must be a positive number of MiB, got {text!r} "
            "(set --memory-mib or FAKE_GPU_MEMORY_MIB)"
        )
    return mib


def add_plugin_dir_argument(parser: argparse.ArgumentParser) -> None:
    default = PluginConfig(node_name="").plugin_dir
    parser.add_argument(
        "--plugin-dir",
        type=Path,
        default=os.environ.get("FAKE_GPU_PLUGIN_DIR", str(default)),
        help=f"the kubelet's device-plugin folder (env FAKE_GPU_PLUGIN_DIR; default {default})",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `serve` flags; every default comes from the environment (the DaemonSet sets it there)."""
    defaults = PluginConfig(node_name="")
    env = os.environ.get
    add_plugin_dir_argument(parser)
    parser.add_argument(
        "--node-name",
        default=env("NODE_NAME") or socket.gethostname(),
        help="node the device ids derive from (env NODE_NAME; default: the host name)",
    )
    parser.add_argument(
        "--devices",
        type=device_count,
        default=env("FAKE_GPU_COUNT", str(defaults.device_count)),
        help=f"fake GPUs to advertise (env FAKE_GPU_COUNT; default {defaults.device_count})",
    )
    parser.add_argument(
        "--model",
        default=env("FAKE_GPU_MODEL", defaults.model),
        help=f"name nvidia-smi shows (env FAKE_GPU_MODEL; default {defaults.model!r})",
    )
    parser.add_argument(
        "--memory-mib",
        type=memory_mib,
        default=env("FAKE_GPU_MEMORY_MIB", str(defaults.memory_mib)),
        help=f"memory per GPU (env FAKE_GPU_MEMORY_MIB; default {defaults.memory_mib})",
    )
    parser.add_argument(
        "--host-bin-dir",
        type=Path,
        default=env("FAKE_GPU_HOST_BIN_DIR", str(defaults.host_bin_dir)),
        help="host folder (a hostPath, same path inside this container) for the fake nvidia-smi "
        f"(env FAKE_GPU_HOST_BIN_DIR; default {defaults.host_bin_dir})",
    )
    parser.add_argument(
        "--pod-resources-socket",
        type=Path,
        default=env("FAKE_GPU_POD_RESOURCES_SOCKET", str(defaults.pod_resources_socket)),
        help="the kubelet's PodResources socket, to log which pod got each allocation "
        f"(env FAKE_GPU_POD_RESOURCES_SOCKET; default {defaults.pod_resources_socket})",
    )
    parser.add_argument(
        "--unhealthy-file",
        type=Path,
        default=env("FAKE_GPU_UNHEALTHY_FILE") or None,
        help="file of device ids (one per line) to report Unhealthy (env FAKE_GPU_UNHEALTHY_FILE)",
    )


def from_arguments(arguments: argparse.Namespace) -> PluginConfig:
    return PluginConfig(
        node_name=arguments.node_name,
        device_count=arguments.devices,
        model=arguments.model,
        memory_mib=arguments.memory_mib,
        plugin_dir=arguments.plugin_dir,
        host_bin_dir=arguments.host_bin_dir,
        pod_resources_socket=arguments.pod_resources_socket,
        unhealthy_file=arguments.unhealthy_file,
    )

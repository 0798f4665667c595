"""Liveness: the plugin answers GetDevicePluginOptions on each of its sockets."""

from __future__ import annotations

from pathlib import Path

import grpc

from fake_gpu.config import SOCKET_GLOB
from fake_gpu.deviceplugin import api_pb2, api_pb2_grpc

PROBE_TIMEOUT_S = 3.0


def probe_socket(socket_path: Path) -> str | None:
    """None when the plugin answers on this socket, otherwise what went wrong."""
    if not socket_path.exists():
        return f"no plugin socket at {socket_path}"
    with grpc.insecure_channel(f"unix://{socket_path}") as channel:
        try:
            api_pb2_grpc.DevicePluginStub(channel).GetDevicePluginOptions(
                api_pb2.Empty(), timeout=PROBE_TIMEOUT_S
            )
        except grpc.RpcError as error:
            return f"the plugin at {socket_path} did not answer: {error.code().name}"
    return None


def probe(plugin_dir: Path) -> str | None:
    """None when every plugin socket in the folder answers (and there is one)."""
    sockets = sorted(plugin_dir.glob(SOCKET_GLOB))
    if not sockets:
        return f"no plugin socket {SOCKET_GLOB} in {plugin_dir}"
    problems = [problem for path in sockets if (problem := probe_socket(path)) is not None]
    return "; ".join(problems) or None

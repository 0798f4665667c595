"""Liveness: the plugin answers GetDevicePluginOptions on its socket."""

from __future__ import annotations

from pathlib import Path

import grpc

from fake_gpu.deviceplugin import api_pb2, api_pb2_grpc

PROBE_TIMEOUT_S = 3.0


def probe(socket_path: Path) -> str | None:
    """None when the plugin answers, otherwise what went wrong."""
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

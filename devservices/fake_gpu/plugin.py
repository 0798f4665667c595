"""The plugin's life: serve each resource on its own socket, register each with the kubelet (as
NVIDIA's plugin does, one Registration per resource), and start over whenever the kubelet restarts
(it then deletes every plugin socket and recreates its own kubelet.sock)."""

from __future__ import annotations

import logging
import os
import stat
import threading
from concurrent import futures
from importlib import resources
from pathlib import Path

import grpc

from fake_gpu.config import API_VERSION, PluginConfig
from fake_gpu.deviceplugin import api_pb2, api_pb2_grpc
from fake_gpu.devices import DeviceTable
from fake_gpu.layout import Resource
from fake_gpu.service import DevicePluginService, plugin_options

log = logging.getLogger(__name__)

REGISTER_TIMEOUT_S = 5.0
# One worker per concurrent call; each ListAndWatch stream holds one for as long as it is open.
SERVER_WORKERS = 16

# (inode, change time) of a socket file: a recreated socket differs even if its inode is reused.
SocketIdentity = tuple[int, int]


class PluginError(RuntimeError):
    """The plugin cannot run as configured; the message says what to change."""


class RegistrationFailed(RuntimeError):
    """The kubelet did not accept the registration (or did not answer)."""


def socket_identity(path: Path) -> SocketIdentity | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    if not stat.S_ISSOCK(status.st_mode):
        return None
    return status.st_ino, status.st_ctime_ns


def install_nvidia_smi(config: PluginConfig) -> Path:
    """Copy the fake nvidia-smi to the host folder that Allocate tells the kubelet to mount."""
    script = resources.files("fake_gpu").joinpath("nvidia-smi.sh").read_bytes()
    target = config.host_nvidia_smi
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{os.getpid()}")
        staging.write_bytes(script)
        staging.chmod(0o755)
        # Atomic, so that a container starting now mounts the old file or the new, never half.
        staging.replace(target)
    except OSError as error:
        raise PluginError(
            f"cannot install the fake nvidia-smi at {target}: {error.strerror}; mount a writable "
            "hostPath there or point --host-bin-dir at one"
        ) from error
    return target


def read_unhealthy_ids(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def register(config: PluginConfig, resource: Resource) -> None:
    """Tell the kubelet a resource's socket, name and options (Registration.Register)."""
    request = api_pb2.RegisterRequest(
        version=API_VERSION,
        endpoint=resource.socket_name,
        resource_name=resource.name,
        options=plugin_options(),
    )
    with grpc.insecure_channel(f"unix://{config.kubelet_socket}") as channel:
        try:
            api_pb2_grpc.RegistrationStub(channel).Register(request, timeout=REGISTER_TIMEOUT_S)
        except grpc.RpcError as error:
            raise RegistrationFailed(f"{error.code().name}: {error.details()}") from error


class PluginServer:
    """One resource's DevicePlugin service on its unix socket."""

    def __init__(self, config: PluginConfig, resource: Resource, table: DeviceTable) -> None:
        self._config = config
        self._path = config.socket_path(resource)
        self._name = resource.name
        self._service = DevicePluginService(config, resource, table)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=SERVER_WORKERS))
        api_pb2_grpc.add_DevicePluginServicer_to_server(self._service, self._server)

    def start(self) -> None:
        path = self._path
        try:
            # As the kubelet does; without it mounted the plugin waits for a kubelet, saying so.
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # a socket left by an earlier run of the plugin
            self._server.add_insecure_port(f"unix://{path}")
        except (OSError, RuntimeError) as error:
            raise PluginError(
                f"cannot listen on {path} ({error}); mount the kubelet's device-plugin folder "
                "(hostPath /var/lib/kubelet/device-plugins) there or set --plugin-dir"
            ) from error
        self._server.start()
        log.info("serving %s on %s", self._name, path)

    def stop(self) -> None:
        self._service.stop()
        self._server.stop(grace=1).wait()
        self._path.unlink(missing_ok=True)


def register_when_kubelet_ready(
    config: PluginConfig, stop: threading.Event
) -> SocketIdentity | None:
    """Register once the kubelet's socket is there and answers; None if stopped first."""
    waiting_logged = False
    while not stop.is_set():
        kubelet = socket_identity(config.kubelet_socket)
        if kubelet is None:
            if not waiting_logged:
                log.info("waiting for the kubelet socket %s", config.kubelet_socket)
                waiting_logged = True
        else:
            try:
                for resource in config.layout.resources:
                    register(config, resource)
                    log.info(
                        "registered %s (%d devices) with the kubelet as %s",
                        resource.name,
                        len(resource.devices),
                        resource.socket_name,
                    )
            except RegistrationFailed as error:
                log.warning("registration with the kubelet failed (%s); retrying", error)
            else:
                return kubelet
        stop.wait(config.poll_interval_s)
    return None


def watch_until_kubelet_restarts(
    config: PluginConfig,
    tables: list[DeviceTable],
    kubelet: SocketIdentity,
    stop: threading.Event,
) -> None:
    """Keep device health current; return when the kubelet's or one of our sockets is replaced."""
    while not stop.wait(config.poll_interval_s):
        unhealthy = read_unhealthy_ids(config.unhealthy_file)
        for table in tables:
            table.set_unhealthy(unhealthy)
        if socket_identity(config.kubelet_socket) != kubelet:
            log.info("the kubelet socket was recreated (kubelet restart): registering again")
            return
        for resource in config.layout.resources:
            if socket_identity(config.socket_path(resource)) is None:
                log.info(
                    "our socket %s was removed (kubelet restart): serving again",
                    config.socket_path(resource),
                )
                return


def run(config: PluginConfig, stop: threading.Event) -> None:
    """Serve and stay registered until `stop` is set."""
    log.info("installed the fake nvidia-smi at %s", install_nvidia_smi(config))
    layout = config.layout
    tables = [DeviceTable(resource.devices) for resource in layout.resources]
    unhealthy = read_unhealthy_ids(config.unhealthy_file)
    for table in tables:
        table.set_unhealthy(unhealthy)
    for gpu, mig in zip(layout.gpus, layout.mig, strict=True):
        slices = f", MIG {'+'.join(mig.slices)}" if mig.mig_enabled else ""
        log.info(
            "GPU %d: %s (bus %s, %s%s)", gpu.index, gpu.id, gpu.bus_id, layout.model.name, slices
        )
    while not stop.is_set():
        servers = [
            PluginServer(config, resource, table)
            for resource, table in zip(layout.resources, tables, strict=True)
        ]
        started: list[PluginServer] = []
        try:
            for server in servers:
                server.start()
                started.append(server)
            kubelet = register_when_kubelet_ready(config, stop)
            if kubelet is not None:
                watch_until_kubelet_restarts(config, tables, kubelet, stop)
        finally:
            for server in started:
                server.stop()
    log.info("stopped")

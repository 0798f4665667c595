"""The fake GPU device plugin against an in-process fake kubelet on temporary unix sockets."""

from __future__ import annotations

import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from fake_gpu_nodes import A100_NODE, T4_NODE, chart_layout

from fake_gpu import plugin
from fake_gpu.config import PluginConfig
from fake_gpu.deviceplugin import api_pb2, api_pb2_grpc
from fake_gpu.devices import DeviceTable, device_id
from fake_gpu.hardware import MODELS, NodeHardware
from fake_gpu.layout import node_layout
from fake_gpu.nvidia_config import DevicePluginConfig, MigGpuLayout
from fake_gpu.probe import probe, probe_socket
from fake_gpu.service import visible_devices

NODE = "gpu-worker"
IDS = [device_id(NODE, index) for index in range(4)]
# Four whole GPUs, one resource: what the plugin does without MIG or sharing.
PLAIN = node_layout(
    NODE,
    NodeHardware(MODELS["NVIDIA A100-SXM4-80GB"], 4),
    DevicePluginConfig(),
    (MigGpuLayout(False, ()),) * 4,
)
[GPU] = PLAIN.resources


class FakeKubelet(api_pb2_grpc.RegistrationServicer):
    """Records every RegisterRequest; `restart` does on disk what a restarting kubelet does."""

    def __init__(self, plugin_dir: Path) -> None:
        self.plugin_dir = plugin_dir
        self.registrations: queue.Queue[api_pb2.RegisterRequest] = queue.Queue()
        self._server: grpc.Server | None = None

    @property
    def socket(self) -> Path:
        return self.plugin_dir / "kubelet.sock"

    def Register(self, request, context):
        self.registrations.put(request)
        return api_pb2.Empty()

    def start(self) -> None:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        api_pb2_grpc.add_RegistrationServicer_to_server(self, self._server)
        self._server.add_insecure_port(f"unix://{self.socket}")
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None
        self.socket.unlink(missing_ok=True)

    def restart(self, *, remove_plugin_sockets: bool = True) -> None:
        """The kubelet's device manager on start: empty the folder, then listen anew."""
        self.stop()
        if remove_plugin_sockets:
            for entry in self.plugin_dir.iterdir():
                entry.unlink()
        self.start()

    def next_registration(self, timeout: float = 10) -> api_pb2.RegisterRequest:
        return self.registrations.get(timeout=timeout)


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Short on purpose: unix socket paths are limited to 107 bytes, pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="fakegpu-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def config(workdir: Path) -> PluginConfig:
    plugin_dir = workdir / "device-plugins"
    plugin_dir.mkdir()
    return PluginConfig(
        layout=PLAIN,
        plugin_dir=plugin_dir,
        host_bin_dir=workdir / "bin",
        unhealthy_file=workdir / "unhealthy",
        pod_resources_socket=workdir / "pod-resources.sock",
        poll_interval_s=0.05,
    )


@pytest.fixture
def kubelet(config: PluginConfig) -> Iterator[FakeKubelet]:
    fake = FakeKubelet(config.plugin_dir)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def running_plugin(config: PluginConfig, kubelet: FakeKubelet) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=plugin.run, args=(config, stop), daemon=True)
    thread.start()
    yield stop
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the plugin did not stop within 10 s of being asked to"


@pytest.fixture
def registration(kubelet: FakeKubelet, running_plugin: threading.Event) -> api_pb2.RegisterRequest:
    return kubelet.next_registration()


@pytest.fixture
def device_plugin(
    config: PluginConfig, registration: api_pb2.RegisterRequest
) -> Iterator[api_pb2_grpc.DevicePluginStub]:
    """A client on the plugin's socket, as the kubelet dials it after the registration."""
    with grpc.insecure_channel(f"unix://{config.plugin_dir / registration.endpoint}") as channel:
        yield api_pb2_grpc.DevicePluginStub(channel)


def health(response: api_pb2.ListAndWatchResponse) -> dict[str, str]:
    return {device.ID: device.health for device in response.devices}


def test_registers_nvidia_gpu_with_the_kubelet(
    config: PluginConfig, registration: api_pb2.RegisterRequest
):
    assert registration.version == "v1beta1"
    assert registration.resource_name == "nvidia.com/gpu"
    assert registration.endpoint == GPU.socket_name
    assert (config.plugin_dir / registration.endpoint).is_socket()
    assert registration.options.get_preferred_allocation_available
    assert not registration.options.pre_start_required


def test_options_match_the_registration(
    device_plugin: api_pb2_grpc.DevicePluginStub, registration: api_pb2.RegisterRequest
):
    assert device_plugin.GetDevicePluginOptions(api_pb2.Empty()) == registration.options


def test_list_and_watch_advertises_every_device_healthy(
    device_plugin: api_pb2_grpc.DevicePluginStub,
):
    stream = device_plugin.ListAndWatch(api_pb2.Empty())
    first = next(stream)
    stream.cancel()
    assert [device.ID for device in first.devices] == IDS
    assert set(health(first).values()) == {"Healthy"}


def test_list_and_watch_streams_health_changes(
    config: PluginConfig, device_plugin: api_pb2_grpc.DevicePluginStub
):
    stream = device_plugin.ListAndWatch(api_pb2.Empty(), timeout=10)
    next(stream)
    config.unhealthy_file.write_text(f"{IDS[2]}\n")
    assert health(next(stream)) == {
        IDS[0]: "Healthy",
        IDS[1]: "Healthy",
        IDS[2]: "Unhealthy",
        IDS[3]: "Healthy",
    }
    config.unhealthy_file.unlink()
    assert set(health(next(stream)).values()) == {"Healthy"}
    stream.cancel()


def test_allocate_hands_each_container_its_devices_and_nvidia_smi(
    config: PluginConfig, device_plugin: api_pb2_grpc.DevicePluginStub
):
    response = device_plugin.Allocate(
        api_pb2.AllocateRequest(
            container_requests=[
                api_pb2.ContainerAllocateRequest(devices_ids=[IDS[3], IDS[1]]),
                api_pb2.ContainerAllocateRequest(devices_ids=[IDS[0]]),
            ]
        )
    )
    first, second = response.container_responses
    assert first.envs["NVIDIA_VISIBLE_DEVICES"] == f"{IDS[1]},{IDS[3]}"
    assert first.envs["FAKE_GPU_BUS_IDS"] == "00000000:11:00.0,00000000:13:00.0"
    assert first.envs["FAKE_GPU_NAME"] == "NVIDIA A100-SXM4-80GB"
    assert first.envs["FAKE_GPU_MEMORY_MIB"] == "81920"
    assert "FAKE_GPU_REPLICAS" not in first.envs
    assert second.envs["NVIDIA_VISIBLE_DEVICES"] == IDS[0]
    [mount] = first.mounts
    assert mount.container_path == "/usr/bin/nvidia-smi"
    assert mount.read_only
    host_script = Path(mount.host_path)
    assert host_script == config.host_nvidia_smi
    assert os.access(host_script, os.X_OK)
    assert host_script.read_bytes().startswith(b"#!/bin/sh\n")


def test_allocate_logs_the_devices_then_their_pod(
    config: PluginConfig,
    device_plugin: api_pb2_grpc.DevicePluginStub,
    caplog: pytest.LogCaptureFixture,
):
    with caplog.at_level(logging.INFO, logger="fake_gpu"):
        device_plugin.Allocate(
            api_pb2.AllocateRequest(
                container_requests=[api_pb2.ContainerAllocateRequest(devices_ids=[IDS[2]])]
            )
        )
        assert f"Allocate nvidia.com/gpu: container 1 of 1 gets {IDS[2]} (GPU 2)" in caplog.messages
        # Asked in the background; this fake kubelet has no PodResources socket.
        owner = f"{IDS[2]}: pod unknown (no pod-resources socket at {config.pod_resources_socket})"
        deadline = time.monotonic() + 10
        while owner not in caplog.messages:
            assert time.monotonic() < deadline, caplog.messages
            time.sleep(0.05)


def test_allocate_refuses_ids_it_never_advertised(device_plugin: api_pb2_grpc.DevicePluginStub):
    with pytest.raises(grpc.RpcError) as refused:
        device_plugin.Allocate(
            api_pb2.AllocateRequest(
                container_requests=[
                    api_pb2.ContainerAllocateRequest(devices_ids=[IDS[0], "GPU-not-ours"])
                ]
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "GPU-not-ours" in refused.value.details()


def test_preferred_allocation_keeps_required_devices_then_lowest_indices(
    device_plugin: api_pb2_grpc.DevicePluginStub,
):
    response = device_plugin.GetPreferredAllocation(
        api_pb2.PreferredAllocationRequest(
            container_requests=[
                api_pb2.ContainerPreferredAllocationRequest(
                    available_deviceIDs=[IDS[3], IDS[2], IDS[1]],
                    must_include_deviceIDs=[IDS[3]],
                    allocation_size=2,
                ),
                api_pb2.ContainerPreferredAllocationRequest(
                    available_deviceIDs=[IDS[3], IDS[0], IDS[2]], allocation_size=1
                ),
            ]
        )
    )
    assert [list(r.deviceIDs) for r in response.container_responses] == [
        [IDS[3], IDS[1]],
        [IDS[0]],
    ]


def test_pre_start_container_is_a_no_op(device_plugin: api_pb2_grpc.DevicePluginStub):
    request = api_pb2.PreStartContainerRequest(devices_ids=[IDS[0]])
    assert device_plugin.PreStartContainer(request) == api_pb2.PreStartContainerResponse()


@pytest.mark.parametrize(
    "remove_plugin_sockets", [True, False], ids=["folder-emptied", "only-kubelet-socket-new"]
)
def test_registers_again_after_the_kubelet_restarts(
    config: PluginConfig,
    kubelet: FakeKubelet,
    registration: api_pb2.RegisterRequest,
    remove_plugin_sockets: bool,
):
    kubelet.restart(remove_plugin_sockets=remove_plugin_sockets)
    again = kubelet.next_registration()
    assert again == registration
    deadline = time.monotonic() + 10
    while probe(config.plugin_dir) is not None:
        assert time.monotonic() < deadline, probe(config.plugin_dir)
        time.sleep(0.05)


def test_serves_again_when_its_socket_is_removed(
    config: PluginConfig, kubelet: FakeKubelet, registration: api_pb2.RegisterRequest
):
    config.socket_path(GPU).unlink()
    assert kubelet.next_registration() == registration
    assert config.socket_path(GPU).is_socket()


def test_keeps_trying_until_the_kubelet_listens(config: PluginConfig):
    stop = threading.Event()
    thread = threading.Thread(target=plugin.run, args=(config, stop), daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        late_kubelet = FakeKubelet(config.plugin_dir)
        late_kubelet.start()
        try:
            assert late_kubelet.next_registration().resource_name == "nvidia.com/gpu"
        finally:
            late_kubelet.stop()
    finally:
        stop.set()
        thread.join(timeout=10)


def test_probe_reports_a_missing_or_silent_plugin(
    config: PluginConfig, running_plugin: threading.Event, registration: api_pb2.RegisterRequest
):
    assert probe(config.plugin_dir) is None
    running_plugin.set()
    deadline = time.monotonic() + 10
    while config.socket_path(GPU).exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "no plugin socket" in probe(config.plugin_dir)
    assert "no plugin socket" in probe_socket(config.socket_path(GPU))


def test_a_plugin_folder_it_cannot_create_is_a_clear_error(config: PluginConfig, workdir: Path):
    blocker = workdir / "a-file"
    blocker.write_text("")
    with pytest.raises(plugin.PluginError, match=r"cannot listen on .* device-plugin folder"):
        plugin.run(replace(config, plugin_dir=blocker / "device-plugins"), threading.Event())


def test_serves_without_a_kubelet_until_one_appears(config: PluginConfig, workdir: Path):
    """Like the image's smoke test: nothing mounted, the plugin still answers its probe."""
    alone = replace(config, plugin_dir=workdir / "absent" / "device-plugins")
    stop = threading.Event()
    thread = threading.Thread(target=plugin.run, args=(alone, stop), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while probe(alone.plugin_dir) is not None:
            assert time.monotonic() < deadline, probe(alone.plugin_dir)
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_an_unwritable_nvidia_smi_folder_is_a_clear_error(config: PluginConfig, workdir: Path):
    blocker = workdir / "a-file"
    blocker.write_text("")
    with pytest.raises(plugin.PluginError, match="cannot install the fake nvidia-smi"):
        plugin.install_nvidia_smi(replace(config, host_bin_dir=blocker / "bin"))


def test_a_socket_it_cannot_create_is_a_clear_error(config: PluginConfig):
    config.socket_path(GPU).mkdir()
    (config.socket_path(GPU) / "keeps-it-from-being-removed").write_text("")
    with pytest.raises(plugin.PluginError, match="cannot listen on"):
        plugin.PluginServer(config, GPU, DeviceTable(GPU.devices)).start()


def run_node(config: PluginConfig, layout) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(
        target=plugin.run, args=(replace(config, layout=layout), stop), daemon=True
    )
    thread.start()
    return stop, thread


def registrations(kubelet: FakeKubelet, count: int) -> dict[str, api_pb2.RegisterRequest]:
    found = [kubelet.next_registration() for _ in range(count)]
    return {request.resource_name: request for request in found}


def allocate(config: PluginConfig, request: api_pb2.RegisterRequest, *ids: str):
    with grpc.insecure_channel(f"unix://{config.plugin_dir / request.endpoint}") as channel:
        return api_pb2_grpc.DevicePluginStub(channel).Allocate(
            api_pb2.AllocateRequest(
                container_requests=[api_pb2.ContainerAllocateRequest(devices_ids=list(ids))]
            )
        )


def list_ids(config: PluginConfig, request: api_pb2.RegisterRequest) -> list[str]:
    with grpc.insecure_channel(f"unix://{config.plugin_dir / request.endpoint}") as channel:
        stream = api_pb2_grpc.DevicePluginStub(channel).ListAndWatch(api_pb2.Empty())
        first = next(stream)
        stream.cancel()
    return [device.ID for device in first.devices]


def test_mixed_strategy_registers_whole_gpus_and_each_mig_profile(
    config: PluginConfig, kubelet: FakeKubelet
):
    layout = chart_layout(A100_NODE)
    stop, thread = run_node(config, layout)
    try:
        found = registrations(kubelet, len(layout.resources))
        assert set(found) == {"nvidia.com/gpu", "nvidia.com/mig-1g.10gb"}
        assert len({request.endpoint for request in found.values()}) == 2
        slices = list_ids(config, found["nvidia.com/mig-1g.10gb"])
        assert slices == [part.id for part in layout.slices]
        assert all(re.fullmatch(r"MIG-[0-9a-f-]{36}", part) for part in slices)
        whole = list_ids(config, found["nvidia.com/gpu"])
        # The MIG-enabled GPU is not also advertised whole.
        mig_gpus = {part.gpu.id for part in layout.slices}
        assert whole and not mig_gpus & set(whole)
        [response] = allocate(
            config, found["nvidia.com/mig-1g.10gb"], slices[3]
        ).container_responses
        assert response.envs["NVIDIA_VISIBLE_DEVICES"] == slices[3]
        assert response.envs["FAKE_GPU_MIG_PROFILE"] == "1g.10gb"
        assert response.envs["FAKE_GPU_MIG_PARENTS"] == layout.slices[3].gpu.id
        assert response.envs["FAKE_GPU_MEMORY_MIB"] == str(layout.slices[3].profile.memory_mib)
        kubelet.restart()
        assert set(registrations(kubelet, len(layout.resources))) == set(found)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_time_sliced_replicas_hand_over_their_gpu_once(config: PluginConfig, kubelet: FakeKubelet):
    layout = chart_layout(T4_NODE)
    [resource] = layout.resources
    stop, thread = run_node(config, layout)
    try:
        found = registrations(kubelet, 1)
        ids = list_ids(config, found[resource.name])
        gpu = layout.gpus[0].id
        assert ids == [f"{gpu}::{n}" for n in range(resource.replicas)]
        [response] = allocate(config, found[resource.name], ids[1]).container_responses
        assert response.envs["NVIDIA_VISIBLE_DEVICES"] == gpu
        assert response.envs["FAKE_GPU_REPLICAS"] == str(resource.replicas)
        # The dev T4 config sets failRequestsGreaterThanOne.
        with pytest.raises(grpc.RpcError) as refused:
            allocate(config, found[resource.name], ids[0], ids[1])
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "failRequestsGreaterThanOne" in refused.value.details()
    finally:
        stop.set()
        thread.join(timeout=10)


def test_replicas_without_the_limit_still_name_their_gpu_once():
    shared = replace(chart_layout(T4_NODE).resources[0], fail_requests_greater_than_one=False)
    devices = visible_devices(shared, list(shared.devices[:3]))
    assert [device.visible_id for device in devices] == [shared.devices[0].gpu.id]

"""The DevicePlugin gRPC service: what the kubelet calls once the plugin has registered."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import grpc

from fake_gpu.config import RESOURCE_NAME, PluginConfig
from fake_gpu.deviceplugin import api_pb2, api_pb2_grpc
from fake_gpu.devices import DeviceTable, FakeGpu, UnknownDevices
from fake_gpu.pod_owners import AllocationOwners

log = logging.getLogger(__name__)

# How often a ListAndWatch stream checks that its client is still there and the plugin still up.
STREAM_CHECK_INTERVAL_S = 0.5


def plugin_options() -> api_pb2.DevicePluginOptions:
    return api_pb2.DevicePluginOptions(
        pre_start_required=False, get_preferred_allocation_available=True
    )


def container_environment(config: PluginConfig, gpus: list[FakeGpu]) -> dict[str, str]:
    """What NVIDIA's container toolkit reads, plus what our fake nvidia-smi needs to draw them."""
    return {
        "NVIDIA_VISIBLE_DEVICES": ",".join(gpu.id for gpu in gpus),
        "FAKE_GPU_NAME": config.model,
        "FAKE_GPU_MEMORY_MIB": str(config.memory_mib),
        "FAKE_GPU_BUS_IDS": ",".join(gpu.bus_id for gpu in gpus),
    }


def preferred_devices(
    available: list[str], must_include: list[str], size: int, order: dict[str, int]
) -> list[str]:
    """The required devices, then the lowest-numbered available ones, `size` in all."""
    chosen = list(dict.fromkeys(must_include))
    rest = sorted((d for d in available if d not in chosen), key=lambda d: order.get(d, len(order)))
    return (chosen + rest)[: max(size, len(chosen))]


class DevicePluginService(api_pb2_grpc.DevicePluginServicer):
    def __init__(self, config: PluginConfig, table: DeviceTable) -> None:
        self._config = config
        self._table = table
        self._owners = AllocationOwners(config.pod_resources_socket)
        self._stopping = threading.Event()

    def stop(self) -> None:
        """End open ListAndWatch streams so that the server can shut down at once."""
        self._stopping.set()

    def GetDevicePluginOptions(
        self, request: api_pb2.Empty, context: grpc.ServicerContext
    ) -> api_pb2.DevicePluginOptions:
        return plugin_options()

    def ListAndWatch(
        self, request: api_pb2.Empty, context: grpc.ServicerContext
    ) -> Iterator[api_pb2.ListAndWatchResponse]:
        generation, states = self._table.health()
        log.info("ListAndWatch: advertising %s", ", ".join(f"{i} {h}" for i, h in states))
        yield self._device_list(states)
        while not self._stopping.is_set() and context.is_active():
            if self._table.wait_for_change(generation, STREAM_CHECK_INTERVAL_S):
                generation, states = self._table.health()
                log.info(
                    "ListAndWatch: health changed: %s", ", ".join(f"{i} {h}" for i, h in states)
                )
                yield self._device_list(states)

    @staticmethod
    def _device_list(states: list[tuple[str, str]]) -> api_pb2.ListAndWatchResponse:
        return api_pb2.ListAndWatchResponse(
            devices=[api_pb2.Device(ID=device, health=health) for device, health in states]
        )

    def GetPreferredAllocation(
        self, request: api_pb2.PreferredAllocationRequest, context: grpc.ServicerContext
    ) -> api_pb2.PreferredAllocationResponse:
        order = {gpu.id: gpu.index for gpu in self._table.gpus}
        return api_pb2.PreferredAllocationResponse(
            container_responses=[
                api_pb2.ContainerPreferredAllocationResponse(
                    deviceIDs=preferred_devices(
                        list(wanted.available_deviceIDs),
                        list(wanted.must_include_deviceIDs),
                        wanted.allocation_size,
                        order,
                    )
                )
                for wanted in request.container_requests
            ]
        )

    def Allocate(
        self, request: api_pb2.AllocateRequest, context: grpc.ServicerContext
    ) -> api_pb2.AllocateResponse:
        responses = []
        for number, wanted in enumerate(request.container_requests, start=1):
            try:
                gpus = self._table.lookup(wanted.devices_ids)
            except UnknownDevices as error:
                log.warning("Allocate refused: %s", error)
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"invalid allocation request for {RESOURCE_NAME!r}: {error}",
                )
            log.info(
                "Allocate: container %d of %d gets %s",
                number,
                len(request.container_requests),
                ", ".join(f"{gpu.id} (index {gpu.index})" for gpu in gpus),
            )
            self._owners.log_later([gpu.id for gpu in gpus])
            responses.append(
                api_pb2.ContainerAllocateResponse(
                    envs=container_environment(self._config, gpus),
                    mounts=[
                        api_pb2.Mount(
                            container_path=self._config.container_nvidia_smi,
                            host_path=str(self._config.host_nvidia_smi),
                            read_only=True,
                        )
                    ],
                )
            )
        return api_pb2.AllocateResponse(container_responses=responses)

    def PreStartContainer(
        self, request: api_pb2.PreStartContainerRequest, context: grpc.ServicerContext
    ) -> api_pb2.PreStartContainerResponse:
        return api_pb2.PreStartContainerResponse()

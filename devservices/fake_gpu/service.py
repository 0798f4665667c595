"""The DevicePlugin gRPC service: what the kubelet calls once the plugin has registered."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import grpc

from fake_gpu.config import PluginConfig
from fake_gpu.deviceplugin import api_pb2, api_pb2_grpc
from fake_gpu.devices import DeviceTable, UnknownDevices
from fake_gpu.hardware import GpuModel
from fake_gpu.layout import Device, Resource
from fake_gpu.pod_owners import AllocationOwners

log = logging.getLogger(__name__)

# How often a ListAndWatch stream checks that its client is still there and the plugin still up.
STREAM_CHECK_INTERVAL_S = 0.5


def plugin_options() -> api_pb2.DevicePluginOptions:
    return api_pb2.DevicePluginOptions(
        pre_start_required=False, get_preferred_allocation_available=True
    )


class RequestRefused(ValueError):
    """An allocation the resource's config forbids (failRequestsGreaterThanOne)."""


def visible_devices(resource: Resource, devices: list[Device]) -> list[Device]:
    """One device per GPU or slice: replicas of the same GPU hand it over once."""
    if resource.fail_requests_greater_than_one and len(devices) > 1:
        raise RequestRefused(
            f"{len(devices)} replicas of {resource.name} requested, but "
            "sharing.timeSlicing.failRequestsGreaterThanOne is set: a replica is a time share of "
            "one GPU, more of them add no memory; request 1"
        )
    return list({device.visible_id: device for device in devices}.values())


def container_environment(
    model: GpuModel, resource: Resource, devices: list[Device]
) -> dict[str, str]:
    """What NVIDIA's container toolkit reads, plus what our fake nvidia-smi needs to draw them."""
    environment = {
        "NVIDIA_VISIBLE_DEVICES": ",".join(device.visible_id for device in devices),
        "FAKE_GPU_NAME": model.name,
        "FAKE_GPU_MEMORY_MIB": str(model.memory_mib),
        "FAKE_GPU_BUS_IDS": ",".join(device.gpu.bus_id for device in devices),
    }
    slices = [device.mig for device in devices if device.mig is not None]
    if slices:
        environment["FAKE_GPU_MIG_PROFILE"] = slices[0].profile.name
        environment["FAKE_GPU_MEMORY_MIB"] = str(slices[0].profile.memory_mib)
        environment["FAKE_GPU_MIG_PARENTS"] = ",".join(part.gpu.id for part in slices)
        environment["FAKE_GPU_MIG_NUMBERS"] = ",".join(str(part.number) for part in slices)
    if resource.replicas > 1:
        environment["FAKE_GPU_REPLICAS"] = str(resource.replicas)
    return environment


def preferred_devices(
    available: list[str], must_include: list[str], size: int, order: dict[str, int]
) -> list[str]:
    """The required devices, then the lowest-numbered available ones, `size` in all."""
    chosen = list(dict.fromkeys(must_include))
    rest = sorted((d for d in available if d not in chosen), key=lambda d: order.get(d, len(order)))
    return (chosen + rest)[: max(size, len(chosen))]


class DevicePluginService(api_pb2_grpc.DevicePluginServicer):
    def __init__(self, config: PluginConfig, resource: Resource, table: DeviceTable) -> None:
        self._config = config
        self._resource = resource
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
        log.info(
            "ListAndWatch %s: advertising %s",
            self._resource.name,
            ", ".join(f"{i} {h}" for i, h in states),
        )
        yield self._device_list(states)
        while not self._stopping.is_set() and context.is_active():
            if self._table.wait_for_change(generation, STREAM_CHECK_INTERVAL_S):
                generation, states = self._table.health()
                log.info(
                    "ListAndWatch %s: health changed: %s",
                    self._resource.name,
                    ", ".join(f"{i} {h}" for i, h in states),
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
        order = self._table.order
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
        name = self._resource.name
        for number, wanted in enumerate(request.container_requests, start=1):
            try:
                devices = visible_devices(self._resource, self._table.lookup(wanted.devices_ids))
            except (UnknownDevices, RequestRefused) as error:
                log.warning("Allocate %s refused: %s", name, error)
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"invalid allocation request for {name!r}: {error}",
                )
            log.info(
                "Allocate %s: container %d of %d gets %s",
                name,
                number,
                len(request.container_requests),
                ", ".join(f"{device.visible_id} (GPU {device.gpu.index})" for device in devices),
            )
            self._owners.log_later(name, list(wanted.devices_ids))
            responses.append(
                api_pb2.ContainerAllocateResponse(
                    envs=container_environment(self._config.layout.model, self._resource, devices),
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

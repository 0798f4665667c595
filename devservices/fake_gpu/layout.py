"""What a node advertises: its fake GPUs, their MIG slices, and the resources the kubelet sees,
as NVIDIA's device plugin derives them from its config (MIG strategy, time-slicing)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fake_gpu.devices import ID_NAMESPACE, FakeGpu, fake_gpus
from fake_gpu.errors import ConfigError
from fake_gpu.hardware import GpuModel, MigProfile, NodeHardware
from fake_gpu.nvidia_config import GPU_RESOURCE, DevicePluginConfig, MigGpuLayout


@dataclass(frozen=True)
class MigSlice:
    gpu: FakeGpu
    number: int  # the slice's MIG device number on its GPU, as nvidia-smi -L shows it
    profile: MigProfile
    id: str


@dataclass(frozen=True)
class Device:
    """One device id the kubelet sees: a whole GPU, a MIG slice, or a time-sliced replica."""

    id: str
    gpu: FakeGpu
    mig: MigSlice | None = None
    replica: int | None = None

    @property
    def visible_id(self) -> str:
        """What the container is given: the GPU's or slice's own id, never the replica suffix."""
        return self.mig.id if self.mig else self.gpu.id


@dataclass(frozen=True)
class Resource:
    name: str
    devices: tuple[Device, ...]
    replicas: int = 1
    fail_requests_greater_than_one: bool = False

    @property
    def socket_name(self) -> str:
        return f"fake-{self.name.replace('/', '-')}.sock"


@dataclass(frozen=True)
class NodeLayout:
    node_name: str
    model: GpuModel
    gpus: tuple[FakeGpu, ...]
    mig: tuple[MigGpuLayout, ...]
    slices: tuple[MigSlice, ...]
    plugin_config: DevicePluginConfig
    resources: tuple[Resource, ...]

    def resource(self, name: str) -> Resource:
        return next(resource for resource in self.resources if resource.name == name)


def mig_id(node_name: str, gpu: FakeGpu, number: int) -> str:
    return f"MIG-{uuid.uuid5(ID_NAMESPACE, f'{node_name}/{gpu.index}/mig/{number}')}"


def replica_id(device_id: str, replica: int) -> str:
    """`<id>::<n>`, as NVIDIA's plugin names the replicas of a time-sliced device."""
    return f"{device_id}::{replica}"


def mig_slices(
    node_name: str, model: GpuModel, gpus: tuple[FakeGpu, ...], mig: tuple[MigGpuLayout, ...]
) -> tuple[MigSlice, ...]:
    return tuple(
        MigSlice(gpu, number, model.mig_profiles[profile], mig_id(node_name, gpu, number))
        for gpu, layout in zip(gpus, mig, strict=True)
        if layout.mig_enabled
        for number, profile in enumerate(layout.slices)
    )


def base_resources(
    config: DevicePluginConfig,
    gpus: tuple[FakeGpu, ...],
    mig: tuple[MigGpuLayout, ...],
    slices: tuple[MigSlice, ...],
) -> dict[str, list[Device]]:
    """Resource name -> devices, by MIG strategy, before any sharing."""
    whole = [
        Device(gpu.id, gpu) for gpu, layout in zip(gpus, mig, strict=True) if not layout.mig_enabled
    ]
    parts = [Device(part.id, part.gpu, part) for part in slices]
    if config.mig_strategy == "none" or not any(layout.mig_enabled for layout in mig):
        return {GPU_RESOURCE: [Device(gpu.id, gpu) for gpu in gpus]}
    if config.mig_strategy == "single":
        profiles = {part.profile.name for part in slices}
        if whole or len(profiles) != 1:
            raise ConfigError(
                "flags.migStrategy: single needs every GPU MIG-enabled with one profile; "
                f"this node has {len(whole)} whole GPUs and profiles {sorted(profiles)} (use mixed)"
            )
        return {GPU_RESOURCE: parts}
    resources: dict[str, list[Device]] = {GPU_RESOURCE: whole}
    for device in parts:
        resources.setdefault(f"nvidia.com/mig-{device.mig.profile.name}", []).append(device)
    return resources


def shared(resources: dict[str, list[Device]], config: DevicePluginConfig) -> list[Resource]:
    """Apply sharing.timeSlicing: each listed device becomes `replicas` devices `<id>::<n>`."""
    result: dict[str, Resource] = {}
    for name, devices in resources.items():
        entry = config.sharing_of(name)
        if entry is None:
            plain = result.get(name, Resource(name, ()))
            result[name] = Resource(name, plain.devices + tuple(devices))
            continue
        chosen = [d for d in devices if entry.devices is None or d.gpu.index in entry.devices]
        rest = tuple(d for d in devices if d not in chosen)
        if rest:
            result[name] = Resource(name, result.get(name, Resource(name, ())).devices + rest)
        shared_name = config.shared_name(entry)
        replicas = tuple(
            Device(replica_id(d.id, n), d.gpu, d.mig, n)
            for d in chosen
            for n in range(entry.replicas)
        )
        result[shared_name] = Resource(
            shared_name, replicas, entry.replicas, config.fail_requests_greater_than_one
        )
    for entry in config.time_slicing:
        if entry.name not in resources:
            raise ConfigError(
                f"sharing.timeSlicing.resources: {entry.name} is not a resource of this node "
                f"(it has {', '.join(sorted(resources))})"
            )
    return [resource for resource in result.values() if resource.devices]


def node_layout(
    node_name: str,
    hardware: NodeHardware,
    config: DevicePluginConfig,
    mig: tuple[MigGpuLayout, ...],
) -> NodeLayout:
    gpus = tuple(fake_gpus(node_name, hardware.count))
    slices = mig_slices(node_name, hardware.model, gpus, mig)
    resources = shared(base_resources(config, gpus, mig, slices), config)
    return NodeLayout(node_name, hardware.model, gpus, mig, slices, config, tuple(resources))

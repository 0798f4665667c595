"""NVIDIA's own config formats, parsed and checked: the k8s-device-plugin config file
(`version: v1`, `flags.migStrategy`, `sharing.timeSlicing`) and the mig-parted config
(`version: v1`, `mig-configs`). Only the keys the fake plugin acts on are accepted; any other key
is refused by name rather than silently ignored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fake_gpu.errors import ConfigError
from fake_gpu.hardware import GpuModel

MIG_STRATEGIES = ("none", "single", "mixed")
RESOURCE_PREFIX = "nvidia.com/"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class SharedResource:
    """One entry of `sharing.timeSlicing.resources`."""

    name: str
    replicas: int
    rename: str | None
    # None: every device of the resource; else the GPU indices it applies to.
    devices: tuple[int, ...] | None


@dataclass(frozen=True)
class DevicePluginConfig:
    mig_strategy: str = "none"
    rename_by_default: bool = False
    fail_requests_greater_than_one: bool = False
    time_slicing: tuple[SharedResource, ...] = ()

    def sharing_of(self, resource: str) -> SharedResource | None:
        return next((entry for entry in self.time_slicing if entry.name == resource), None)

    def shared_name(self, entry: SharedResource) -> str:
        """The name replicas are advertised under: `rename`, or `<name>.shared` by default."""
        if entry.rename:
            return entry.rename
        return f"{entry.name}.shared" if self.rename_by_default else entry.name


def _mapping(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a mapping, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
    return value


def _bool(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false, got {value!r}")
    return value


def _version(document: dict[str, Any], source: str) -> None:
    if document.get("version") != "v1":
        raise ConfigError(f"{source}: version: must be v1, got {document.get('version')!r}")


def _resource_name(value: Any, where: str) -> str:
    if (
        not isinstance(value, str)
        or not value.startswith(RESOURCE_PREFIX)
        or value == RESOURCE_PREFIX
    ):
        raise ConfigError(f"{where}: must be a resource name nvidia.com/..., got {value!r}")
    return value


def _index(value: Any) -> int | None:
    """A GPU index as NVIDIA's configs write one: 0 or "0"."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _device_indices(value: Any, where: str) -> tuple[int, ...] | None:
    if value is None or value == "all":
        return None
    indices = [_index(entry) for entry in value] if isinstance(value, list) else []
    if not indices or None in indices:
        raise ConfigError(f"{where}: must be all or a list of GPU indices, got {value!r}")
    return tuple(indices)


def _shared_resource(entry: Any, where: str) -> SharedResource:
    entry = _mapping(entry, where, {"name", "replicas", "rename", "devices"})
    replicas = entry.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise ConfigError(
            f"{where}.replicas: must be a whole number of at least 1, got {replicas!r}"
        )
    rename = entry.get("rename")
    if rename is not None:
        rename = _resource_name(rename, f"{where}.rename")
    return SharedResource(
        name=_resource_name(entry.get("name"), f"{where}.name"),
        replicas=replicas,
        rename=rename,
        devices=_device_indices(entry.get("devices"), f"{where}.devices"),
    )


def parse_device_plugin_config(document: Any, source: str) -> DevicePluginConfig:
    """A k8s-device-plugin config file (one value of NVIDIA's plugin ConfigMap)."""
    document = _mapping(document, source, {"version", "flags", "sharing"})
    _version(document, source)
    flags = _mapping(document.get("flags"), f"{source}: flags", {"migStrategy", "failOnInitError"})
    strategy = flags.get("migStrategy", "none")
    if strategy not in MIG_STRATEGIES:
        raise ConfigError(
            f"{source}: flags.migStrategy: must be one of {', '.join(MIG_STRATEGIES)}, "
            f"got {strategy!r}"
        )
    sharing = _mapping(document.get("sharing"), f"{source}: sharing", {"timeSlicing"})
    where = f"{source}: sharing.timeSlicing"
    slicing = _mapping(
        sharing.get("timeSlicing"),
        where,
        {"renameByDefault", "failRequestsGreaterThanOne", "resources"},
    )
    entries = slicing.get("resources", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{where}.resources: must be a list, got {entries!r}")
    resources = tuple(_shared_resource(e, f"{where}.resources[{i}]") for i, e in enumerate(entries))
    names = [entry.name for entry in resources]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}.resources: {name} is listed twice")
    return DevicePluginConfig(
        mig_strategy=strategy,
        rename_by_default=_bool(slicing.get("renameByDefault"), f"{where}.renameByDefault"),
        fail_requests_greater_than_one=_bool(
            slicing.get("failRequestsGreaterThanOne"), f"{where}.failRequestsGreaterThanOne"
        ),
        time_slicing=resources,
    )


@dataclass(frozen=True)
class MigGpuLayout:
    """What one GPU is: MIG disabled (no slices), or enabled with these slices in order."""

    mig_enabled: bool
    slices: tuple[str, ...]


def _mig_entry(
    entry: Any, where: str, model: GpuModel, count: int
) -> tuple[tuple[int, ...], MigGpuLayout]:
    entry = _mapping(entry, where, {"devices", "mig-enabled", "mig-devices"})
    devices = _device_indices(entry.get("devices", "all"), f"{where}.devices")
    if devices is None:
        devices = tuple(range(count))
    outside = [i for i in devices if i >= count]
    if outside:
        raise ConfigError(
            f"{where}.devices: GPU {outside[0]} does not exist (the node has {count})"
        )
    enabled = entry.get("mig-enabled")
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.mig-enabled: must be true or false, got {enabled!r}")
    if enabled and not model.mig_capable:
        raise ConfigError(f"{where}.mig-enabled: {model.name} has no MIG")
    wanted = entry.get("mig-devices") or {}
    if not isinstance(wanted, dict):
        raise ConfigError(f"{where}.mig-devices: must map profiles to counts, got {wanted!r}")
    unknown = sorted(set(wanted) - set(model.mig_profiles))
    if unknown:
        raise ConfigError(
            f"{where}.mig-devices: unknown MIG profile {unknown[0]!r} for {model.name} "
            f"(it has {', '.join(model.mig_profiles) or 'none'})"
        )
    if wanted and not enabled:
        raise ConfigError(f"{where}.mig-devices: needs mig-enabled: true")
    slices: list[str] = []
    for profile, number in wanted.items():
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise ConfigError(f"{where}.mig-devices.{profile}: must be a count, got {number!r}")
        slices += [profile] * number
    compute = sum(model.mig_profiles[p].compute_slices for p in slices)
    memory = sum(model.mig_profiles[p].memory_slices for p in slices)
    if compute > model.compute_slices or memory > model.memory_slices:
        raise ConfigError(
            f"{where}.mig-devices: {dict(wanted)} needs {compute} compute and {memory} memory "
            f"slices; {model.name} has {model.compute_slices} and {model.memory_slices}"
        )
    return devices, MigGpuLayout(enabled, tuple(slices))


def parse_mig_config(
    document: Any, source: str, name: str, model: GpuModel, count: int
) -> tuple[MigGpuLayout, ...]:
    """The layout of each of a node's GPUs under mig-parted config `name` (its node label
    nvidia.com/mig.config); `mig-devices` keys must be profiles of the node's model."""
    document = _mapping(document, source, {"version", "mig-configs"})
    _version(document, source)
    configs = document.get("mig-configs")
    if not isinstance(configs, dict):
        raise ConfigError(f"{source}: mig-configs: must map config names to lists, got {configs!r}")
    if name not in configs:
        raise ConfigError(
            f"{source}: mig-configs: no config named {name!r} (has {sorted(configs)})"
        )
    entries = configs[name]
    where = f"{source}: mig-configs.{name}"
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: must be a list, got {entries!r}")
    layouts = [MigGpuLayout(False, ())] * count
    for number, entry in enumerate(entries):
        devices, layout = _mig_entry(entry, f"{where}[{number}]", model, count)
        for index in devices:
            layouts[index] = layout
    return tuple(layouts)

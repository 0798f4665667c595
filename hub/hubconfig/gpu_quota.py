"""GPU quota: GPUs one user holds at once across their servers, and optional pooled group limits,
each GPU resource counted on its own (an A100 held does not use up a MIG slice's quota).

The arithmetic is pure (`check`, `room`); `holdings` reads the hub's in-memory users and spawners,
where pending and running servers both count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hubconfig.refusals import forbidden

# The resource GPUs were counted in before servers recorded theirs (the chart's old default).
LEGACY_GPU_RESOURCE = "nvidia.com/gpu"


class HoldsGpus(Protocol):
    """What the quota needs to know of a server: its name, whether it is active, its GPUs."""

    name: str
    active: bool
    gpus_held: int
    gpu_resource_held: str


@dataclass(frozen=True)
class GpuQuota:
    per_user: int
    per_group: Mapping[str, int] = field(default_factory=dict)
    per_resource: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_values(cls, gpu_quota: dict[str, Any]) -> GpuQuota:
        return cls(
            gpu_quota["perUser"],
            dict(gpu_quota.get("perGroup", {})),
            dict(gpu_quota.get("perResource", {})),
        )

    def user_limit(self, resource: str) -> int:
        """Most GPUs of `resource` one user may hold at once."""
        return self.per_resource.get(resource, self.per_user)


@dataclass(frozen=True)
class Holdings:
    """GPUs of one resource already held: by the user's other servers, and by all members of
    limited groups."""

    by_server: Mapping[str, int]
    by_group: Mapping[str, int]


def check(
    quota: GpuQuota, requested: int, resource: str, groups: Iterable[str], held: Holdings
) -> None:
    """Raise SpawnRefused when granting `requested` GPUs of `resource` would exceed a limit."""
    if requested == 0:
        return
    kind = f"GPU kind {resource}: "
    user_total = sum(held.by_server.values())
    limit = quota.user_limit(resource)
    if user_total + requested > limit:
        servers = ", ".join(
            f"{_server_label(name)} ({count})" for name, count in sorted(held.by_server.items())
        )
        holding = f"You already hold {user_total} GPU(s) in: {servers}. " if user_total else ""
        raise forbidden(
            f"{kind}{holding}You may hold at most {limit} GPU(s) at once and asked for "
            f"{requested} more. Stop a GPU server first, or choose a CPU profile."
        )
    for group in sorted(set(groups) & set(quota.per_group)):
        pool = quota.per_group[group]
        in_use = held.by_group.get(group, 0)
        if in_use + requested > pool:
            raise forbidden(
                f"{kind}The members of {group!r} share {pool} GPU(s) and {in_use} are in use, "
                f"so {requested} more cannot be granted now. Try again later or choose a CPU "
                "profile."
            )


def room(quota: GpuQuota, resource: str, groups: Iterable[str], held: Holdings) -> int:
    """How many more GPUs of `resource` the user may take now (what `check` would grant)."""
    left = [quota.user_limit(resource) - sum(held.by_server.values())]
    left += [
        quota.per_group[group] - held.by_group.get(group, 0)
        for group in set(groups) & set(quota.per_group)
    ]
    return max(0, min(left))


def held_count(value: Any) -> int:
    """GPUs a server holds, from what its state recorded.

    Anything but a whole number >= 0 counts as none: state written before the spawn policy
    refused negative counts may hold -1, which would otherwise lower the user's total.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def held_resource(value: Any) -> str:
    """The resource a server's GPUs are counted in, from what its state recorded; state written
    before servers recorded it holds none, and those GPUs were `nvidia.com/gpu`."""
    if isinstance(value, str) and value:
        return value
    return LEGACY_GPU_RESOURCE


def holdings(user: Any, current: HoldsGpus, quota: GpuQuota, resource: str) -> Holdings:
    """Read GPUs of `resource` held from the hub: `user` is JupyterHub's User, `current` the
    spawner starting."""
    by_server = {
        spawner.name: _held(spawner, resource)
        for spawner in _other_active(user.spawners.values(), current)
        if _held(spawner, resource)
    }
    group_names = {group.name for group in user.groups} & set(quota.per_group)
    by_group = {name: _group_total(user, name, current, resource) for name in group_names}
    return Holdings(by_server, by_group)


def _held(spawner: HoldsGpus, resource: str) -> int:
    if spawner.gpu_resource_held != resource:
        return 0
    return held_count(spawner.gpus_held)


def _group_total(user: Any, group_name: str, current: HoldsGpus, resource: str) -> int:
    group = next(group for group in user.groups if group.name == group_name)
    users = user.settings["users"]
    return sum(
        _held(spawner, resource)
        for member in group.users
        for spawner in _other_active(users[member].spawners.values(), current)
    )


def _other_active(spawners: Iterable[Any], current: HoldsGpus) -> list[Any]:
    return [
        spawner
        for spawner in spawners
        if spawner is not current and spawner.active and hasattr(spawner, "gpus_held")
    ]


def _server_label(name: str) -> str:
    return f"server {name!r}" if name else "your default server"

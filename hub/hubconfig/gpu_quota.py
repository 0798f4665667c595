"""GPU quota: GPUs one user holds at once across their servers, and optional pooled group limits.

The arithmetic is pure (`check`); `holdings` reads the hub's in-memory users and spawners, where
pending and running servers both count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hubconfig.refusals import forbidden


class HoldsGpus(Protocol):
    """What the quota needs to know of a server: its name, whether it is active, its GPUs."""

    name: str
    active: bool
    gpus_held: int


@dataclass(frozen=True)
class GpuQuota:
    per_user: int
    per_group: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_values(cls, gpu_quota: dict[str, Any]) -> GpuQuota:
        return cls(gpu_quota["perUser"], dict(gpu_quota.get("perGroup", {})))


@dataclass(frozen=True)
class Holdings:
    """GPUs already held: by the user's other servers, and by all members of limited groups."""

    by_server: Mapping[str, int]
    by_group: Mapping[str, int]


def check(quota: GpuQuota, requested: int, groups: Iterable[str], held: Holdings) -> None:
    """Raise SpawnRefused when granting `requested` GPUs would exceed a limit."""
    if requested == 0:
        return
    user_total = sum(held.by_server.values())
    if user_total + requested > quota.per_user:
        servers = ", ".join(
            f"{_server_label(name)} ({count})" for name, count in sorted(held.by_server.items())
        )
        holding = f"You already hold {user_total} GPU(s) in: {servers}. " if user_total else ""
        raise forbidden(
            f"{holding}You may hold at most {quota.per_user} GPU(s) at once and asked for "
            f"{requested} more. Stop a GPU server first, or choose a CPU profile."
        )
    for group in sorted(set(groups) & set(quota.per_group)):
        limit = quota.per_group[group]
        in_use = held.by_group.get(group, 0)
        if in_use + requested > limit:
            raise forbidden(
                f"The members of {group!r} share {limit} GPU(s) and {in_use} are in use, so "
                f"{requested} more cannot be granted now. Try again later or choose a CPU profile."
            )


def held_count(value: Any) -> int:
    """GPUs a server holds, from what its state recorded.

    Anything but a whole number >= 0 counts as none: state written before the spawn policy
    refused negative counts may hold -1, which would otherwise lower the user's total.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def holdings(user: Any, current: HoldsGpus, quota: GpuQuota) -> Holdings:
    """Read GPUs held from the hub: `user` is JupyterHub's User, `current` the spawner starting."""
    by_server = {
        spawner.name: held_count(spawner.gpus_held)
        for spawner in _other_active(user.spawners.values(), current)
        if held_count(spawner.gpus_held)
    }
    group_names = {group.name for group in user.groups} & set(quota.per_group)
    by_group = {name: _group_total(user, name, current) for name in group_names}
    return Holdings(by_server, by_group)


def _group_total(user: Any, group_name: str, current: HoldsGpus) -> int:
    group = next(group for group in user.groups if group.name == group_name)
    users = user.settings["users"]
    return sum(
        held_count(spawner.gpus_held)
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

"""The fake GPUs of one node: stable ids and PCI bus ids; a resource's devices and their health."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fake_gpu.layout import Device

HEALTHY = "Healthy"
UNHEALTHY = "Unhealthy"

# Fixed so that a node's ids are the same on every start of the plugin and on every machine.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:jupyterhub-k8s:fake-gpu")
# Real A100 boards sit on buses like 07, 0A, ...; start the fake ones at 0x10.
FIRST_BUS = 0x10


@dataclass(frozen=True)
class FakeGpu:
    index: int
    id: str
    bus_id: str


def device_id(node_name: str, index: int) -> str:
    """`GPU-<uuid>` like NVIDIA's ids, derived from the node name and the device's index."""
    return f"GPU-{uuid.uuid5(ID_NAMESPACE, f'{node_name}/{index}')}"


def fake_gpus(node_name: str, count: int) -> list[FakeGpu]:
    return [
        FakeGpu(
            index=index,
            id=device_id(node_name, index),
            bus_id=f"00000000:{FIRST_BUS + index:02X}:00.0",
        )
        for index in range(count)
    ]


class UnknownDevices(ValueError):
    """The kubelet named ids this plugin never advertised."""


class DeviceTable:
    """One resource's devices and their health; ListAndWatch streams wait here for changes.

    A GPU listed unhealthy takes its MIG slices and replicas with it, as a failed board would.
    """

    def __init__(self, devices: Sequence[Device]) -> None:
        self._devices = {device.id: device for device in devices}
        self._order = {device.id: number for number, device in enumerate(devices)}
        self._unhealthy: frozenset[str] = frozenset()
        self._generation = 0
        self._changed = threading.Condition()

    @property
    def order(self) -> dict[str, int]:
        return dict(self._order)

    def lookup(self, ids: Iterable[str]) -> list[Device]:
        """The devices with these ids in device order, or UnknownDevices naming the strangers."""
        ids = list(dict.fromkeys(ids))
        unknown = [device for device in ids if device not in self._devices]
        if unknown:
            raise UnknownDevices(f"unknown device ids: {', '.join(unknown)}")
        return sorted((self._devices[device] for device in ids), key=lambda d: self._order[d.id])

    def _is_unhealthy(self, device: Device, listed: frozenset[str]) -> bool:
        return bool({device.id, device.visible_id, device.gpu.id} & listed)

    def health(self) -> tuple[int, list[tuple[str, str]]]:
        """The current generation and each device's (id, health), in device order."""
        with self._changed:
            states = [
                (d.id, UNHEALTHY if self._is_unhealthy(d, self._unhealthy) else HEALTHY)
                for d in self._devices.values()
            ]
            return self._generation, states

    def set_unhealthy(self, ids: Iterable[str]) -> None:
        """Mark exactly these devices unhealthy (the others healthy); wakes watchers on a change."""
        listed = frozenset(ids)
        unhealthy = frozenset(d.id for d in self._devices.values() if self._is_unhealthy(d, listed))
        with self._changed:
            if unhealthy == self._unhealthy:
                return
            self._unhealthy = unhealthy
            self._generation += 1
            self._changed.notify_all()

    def wait_for_change(self, seen_generation: int, timeout: float) -> bool:
        """Wait until the generation moves past `seen_generation`; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._generation != seen_generation, timeout)

"""The fake GPUs of one node: stable ids, PCI bus ids, and their health as it changes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

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
    """The node's devices and their health; ListAndWatch streams wait here for changes."""

    def __init__(self, gpus: list[FakeGpu]) -> None:
        self._gpus = {gpu.id: gpu for gpu in gpus}
        self._unhealthy: frozenset[str] = frozenset()
        self._generation = 0
        self._changed = threading.Condition()

    @property
    def gpus(self) -> list[FakeGpu]:
        return sorted(self._gpus.values(), key=lambda gpu: gpu.index)

    def lookup(self, ids: Iterable[str]) -> list[FakeGpu]:
        """The devices with these ids in device order, or UnknownDevices naming the strangers."""
        ids = list(ids)
        unknown = [device for device in ids if device not in self._gpus]
        if unknown:
            raise UnknownDevices(f"unknown device ids: {', '.join(unknown)}")
        return sorted((self._gpus[device] for device in ids), key=lambda gpu: gpu.index)

    def health(self) -> tuple[int, list[tuple[str, str]]]:
        """The current generation and each device's (id, health), in device order."""
        with self._changed:
            states = [
                (gpu.id, UNHEALTHY if gpu.id in self._unhealthy else HEALTHY) for gpu in self.gpus
            ]
            return self._generation, states

    def set_unhealthy(self, ids: Iterable[str]) -> None:
        """Mark exactly these devices unhealthy (the others healthy); wakes watchers on a change."""
        unhealthy = frozenset(device for device in ids if device in self._gpus)
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

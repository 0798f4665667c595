"""Free GPUs of each kind, read from the cluster for the spawn form.

Free GPUs on a node are its allocatable count of the resource minus what the pods bound to it
request, counting every namespace (other workloads hold GPUs too) and every pod that has not
ended. The nodes counted are those matching the kind's node selector. One read serves every form
for a few seconds, so a lecture's worth of students opening the form at once costs one list of
nodes and pods, not one per student.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hubconfig.profiles import whole_number

CACHE_S = 5.0
NODES_PATH = "/api/v1/nodes"
# Ended pods hold nothing; the API server leaves them out of the list.
ENDED_PHASES = ("Succeeded", "Failed")
PODS_PATH = "/api/v1/pods?" + urllib.parse.urlencode(
    {"fieldSelector": ",".join(f"status.phase!={phase}" for phase in ENDED_PHASES)}
)


def _count(value: Any) -> int:
    """A GPU count as the API writes it ("4"); anything else (absent, garbage) as none."""
    return whole_number(value) or 0


@dataclass(frozen=True)
class GpuCount:
    free: int
    total: int


@dataclass(frozen=True)
class ClusterGpus:
    """One read of the nodes and the pods bound to them."""

    nodes: tuple[Mapping[str, Any], ...]
    pods: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_lists(cls, nodes: Any, pods: Any) -> ClusterGpus:
        return cls(tuple(nodes["items"]), tuple(pods["items"]))

    def count(self, resource: str, node_selector: Mapping[str, str]) -> GpuCount:
        """Allocatable and free GPUs of `resource` on the nodes `node_selector` matches."""
        total = free = 0
        for node in self.nodes:
            labels = node["metadata"].get("labels") or {}
            if any(labels.get(key) != value for key, value in node_selector.items()):
                continue
            allocatable = _count(node.get("status", {}).get("allocatable", {}).get(resource))
            name = node["metadata"]["name"]
            requested = sum(
                pod_request(pod, resource)
                for pod in self.pods
                if pod.get("spec", {}).get("nodeName") == name
                and pod.get("status", {}).get("phase") not in ENDED_PHASES
            )
            total += allocatable
            free += max(0, allocatable - requested)
        return GpuCount(free, total)


def pod_request(pod: Mapping[str, Any], resource: str) -> int:
    """What a pod holds of `resource`, as the scheduler counts it: its containers together, or
    its largest init container if that is more. An extended resource given only as a limit is
    requested as much."""
    spec = pod.get("spec", {})

    def request(container: Mapping[str, Any]) -> int:
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            if resource in (resources.get(part) or {}):
                return _count(resources[part][resource])
        return 0

    containers = sum(request(container) for container in spec.get("containers", []))
    init = max((request(container) for container in spec.get("initContainers", [])), default=0)
    return max(containers, init)


def form_note(
    display_name: str,
    description: str,
    count: GpuCount | None,
    room: int,
    max_per_lab: int | None = None,
) -> str:
    """What the form says of a GPU kind: free now (or unknown), the user's quota left, and the
    most one lab may take when the kind has such a limit."""
    free = f"{count.free} of {count.total} free now" if count else "availability unknown"
    note = f"{display_name}: {free}; you may take {room} more"
    if max_per_lab:
        note += f"; at most {max_per_lab} per lab"
    return f"{note}. {description}" if description else note


class GpuAvailability:
    """Reads the cluster's GPUs through `read` (an API path -> its JSON), at most every
    `cache_s` seconds; None while the read fails or when there is nothing to read with."""

    def __init__(
        self,
        read: Callable[[str], Any] | None,
        cache_s: float = CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._cache_s = cache_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._read_at: float | None = None
        self._last: ClusterGpus | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> GpuAvailability:
        # One reader, and one cache, for every spawner (traitlets copies configured values).
        return self

    async def current(self) -> ClusterGpus | None:
        """The cluster's GPUs, read at most `cache_s` seconds ago; None when unknown."""
        if self._read is None:
            return None
        async with self._lock:
            if self._read_at is None or self._clock() - self._read_at >= self._cache_s:
                self._last = await asyncio.to_thread(_read_once, self._read)
                self._read_at = self._clock()
            return self._last


def _read_once(read: Callable[[str], Any]) -> ClusterGpus | None:
    try:
        return ClusterGpus.from_lists(read(NODES_PATH), read(PODS_PATH))
    except (OSError, ValueError, KeyError, TypeError):
        # A failed read (no rights, API away, an answer of another shape) is "unknown" in the
        # form, never a broken form; the next read after the cache time tries again.
        return None

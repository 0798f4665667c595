"""Where one spawn's time goes, from the timestamps that the hub, Kubernetes and the lab leave.

`figures.py` records the browser's moments (click on Start, the lab's URL reached, JupyterLab's
main area shown); this module adds the others and cuts the whole into consecutive segments:

- `hub`: click to KubeSpawner's request to create the pod (form post, options check);
- `pod_start`: that request to the lab container's start (scheduling, kubelet, containerd);
- `kubespawner_poll`: container start to KubeSpawner seeing the pod running (its pod
  reflector, and `exponential_backoff` between its looks);
- `listen_wait`: that to the start returning, once the lab server listens (ProfileSpawner's
  `listen_poll_interval`; nothing when it is 0);
- `hub_wait_up`: that to the server answering the hub's `wait_up` poll (`Spawner.http_timeout`);
- `proxy_route`: that to the spawn page's progress stream ending (the proxy route added);
- `browser`: that to JupyterLab's main area (the page's redirect, then the lab's page load).

`server_start` (container start to the lab's "is running at" line) runs beside
`kubespawner_poll`, `listen_wait` and `hub_wait_up`, so it is reported apart, as are the parts
of `browser` (`browser_redirect` to the lab page's navigation start, `lab_document` and
`lab_page_load` from there) and `benchmark_poll`, how late the benchmark's own check saw the
lab shown. Log times come from `kubectl logs --timestamps` (the container runtime's, in
nanoseconds); pod times from the pod's status, which Kubernetes keeps in whole seconds (so a
segment that ends or begins at `container_started` is off by up to a second; the others are
not). The kind nodes share the host's clock.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SEGMENTS = (
    ("hub", "clicked", "pod_create_requested"),
    ("pod_start", "pod_create_requested", "container_started"),
    ("kubespawner_poll", "container_started", "kubespawner_saw_pod_running"),
    ("listen_wait", "kubespawner_saw_pod_running", "spawner_start_returned"),
    ("hub_wait_up", "spawner_start_returned", "server_answered_hub"),
    ("proxy_route", "server_answered_hub", "progress_ended"),
    ("browser", "progress_ended", "lab_shown"),
)
PARALLEL_SEGMENTS = (
    ("server_start", "container_started", "server_listening"),
    ("browser_redirect", "progress_ended", "lab_url_reached"),
    ("lab_document", "lab_url_reached", "lab_document_received"),
    ("lab_page_load", "lab_url_reached", "lab_shown"),
    ("benchmark_poll", "lab_shown", "benchmark_saw_lab"),
)


def log_time(stamp: str) -> float:
    """Seconds since the epoch of an RFC 3339 time, as kubectl and pod status write them."""
    # Python 3.11 parses at most microseconds; containerd writes nanoseconds.
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", stamp.replace("Z", "+00:00"))
    return datetime.fromisoformat(stamp).timestamp()


def first_time(log: str, pattern: str, after: float) -> float | None:
    """Time of the first line of a `kubectl logs --timestamps` log that matches `pattern`
    (a regular expression) and was written after `after`."""
    matcher = re.compile(pattern)
    for line in log.splitlines():
        stamp, _, text = line.partition(" ")
        if not stamp or not matcher.search(text):
            continue
        written = log_time(stamp)
        if written >= after:
            return written
    return None


def hub_marks(hub_log: str, username: str, pod_name: str, clicked: float) -> dict[str, float]:
    """The hub's moments of a start of `username`'s server begun at `clicked` (debug log)."""
    user = re.escape(username)
    patterns = {
        "spawn_initiated": rf"Initiating spawn for {user}$",
        "pod_create_requested": rf"Attempting to create pod {re.escape(pod_name)},",
        # KubeSpawner's debug line right after it saw the pod running.
        "kubespawner_saw_pod_running": rf"pod \S+/{re.escape(pod_name)} events before launch",
        "spawner_start_returned": rf"Waiting \S+ for server at \S+/user/{user}/",
        "server_answered_hub": rf"Server at \S+/user/{user}/\S* responded in",
        "route_requested": rf"Adding user {user} to proxy",
        "progress_ended": rf"GET /hub/api/users/{user}/server/progress",
    }
    found = {name: first_time(hub_log, pattern, clicked) for name, pattern in patterns.items()}
    return {name: when for name, when in found.items() if when is not None}


def pod_marks(pod: Mapping[str, Any]) -> dict[str, float]:
    """The pod's moments, in whole seconds: created, scheduled, its container started."""
    marks = {"pod_created": log_time(pod["metadata"]["creationTimestamp"])}
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "PodScheduled" and condition["status"] == "True":
            marks["pod_scheduled"] = log_time(condition["lastTransitionTime"])
    for container in pod.get("status", {}).get("containerStatuses", []):
        started = container.get("state", {}).get("running", {}).get("startedAt")
        if container["name"] == "notebook" and started:
            marks["container_started"] = log_time(started)
    return marks


def lab_marks(lab_log: str) -> dict[str, float]:
    """The lab's moments: its first log line, and the line saying that it listens."""
    marks = {}
    first = first_time(lab_log, r".", after=0)
    listening = first_time(lab_log, r"Jupyter Server \S+ is running at", after=0)
    if first is not None:
        marks["server_first_log"] = first
    if listening is not None:
        marks["server_listening"] = listening
    return marks


@dataclass(frozen=True)
class SpawnTimeline:
    """One spawn's moments, in seconds since the epoch."""

    marks: Mapping[str, float]

    def relative(self) -> dict[str, float]:
        """Each moment in seconds after the click, in time order."""
        clicked = self.marks["clicked"]
        ordered = sorted(self.marks.items(), key=lambda item: item[1])
        return {name: round(when - clicked, 3) for name, when in ordered}

    def segments(self) -> dict[str, float]:
        """The named segments whose two ends were both seen."""
        cut = {}
        for name, begin, end in (*SEGMENTS, *PARALLEL_SEGMENTS):
            if begin in self.marks and end in self.marks:
                cut[name] = round(self.marks[end] - self.marks[begin], 3)
        return cut


def median_segments(timelines: Iterable[SpawnTimeline]) -> dict[str, float]:
    """Each segment's median over the spawns that saw it, in the order of SEGMENTS."""
    per_segment: dict[str, list[float]] = {}
    for timeline in timelines:
        for name, seconds in timeline.segments().items():
            per_segment.setdefault(name, []).append(seconds)
    order = [name for name, _, _ in (*SEGMENTS, *PARALLEL_SEGMENTS)]
    return {
        name: round(statistics.median(per_segment[name]), 3)
        for name in order
        if name in per_segment
    }

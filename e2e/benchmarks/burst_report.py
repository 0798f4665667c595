"""What became of each learner of a lecture burst, and the figures of the burst: pure functions
over what `lecture_burst.py` observed (no cluster, no hub), so that they can be tested alone."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from hubconfig.unschedulable import is_cluster_full

RUNNING, REFUSED, CAPACITY, TIMEOUT, FAILED = "running", "refused", "capacity", "timeout", "failed"
OUTCOMES = (RUNNING, REFUSED, CAPACITY, TIMEOUT, FAILED)
# A start timeout as the progress stream reports it: KubeSpawner's ("pod NS/NAME did not start in
# N seconds!") or the hub's own, asyncio.wait_for around Spawner.start (jupyterhub/user.py),
# whose TimeoutError has no message: "Spawn failed: " and nothing after it.
START_TIMEOUT = re.compile(r"did not start in \d+ seconds|^Spawn failed: $")


@dataclass(frozen=True)
class Learner:
    """One learner's launch as observed: the hub's answer to the LTI launch, then the progress
    stream's last event (seconds since the burst began)."""

    name: str
    launch_status: int | None
    """The HTTP status the launch ended on (after redirects); None when no answer came."""
    launch_error: str | None = None
    """Why the launch counts as refused: an error page's text, or the client's exception."""
    ready_s: float | None = None
    failed_s: float | None = None
    failure: str | None = None
    """The progress stream's `failed` message."""


def outcome(learner: Learner) -> str:
    """running, refused (the launch got no 2xx/3xx answer, or an error page), capacity (the hub's
    "All lab machines are busy" failure), timeout (not ready within the wait, or the hub's start
    timeout) or failed (any other spawn failure)."""
    if learner.launch_error is not None or learner.launch_status is None:
        return REFUSED
    if not 200 <= learner.launch_status < 400:
        return REFUSED
    if learner.ready_s is not None:
        return RUNNING
    if learner.failure is None:
        return TIMEOUT
    if is_cluster_full(learner.failure):
        return CAPACITY
    if START_TIMEOUT.search(learner.failure):
        return TIMEOUT
    return FAILED


def percentile(values: list[float], percent: int) -> float:
    """The `percent`th percentile (statistics' inclusive method: within the values measured)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def latency_summary(samples_ms: list[float]) -> dict[str, Any]:
    """p50, p95 and max of the hub API's answer times (ms) polled during the burst."""
    if not samples_ms:
        return {"samples": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    return {
        "samples": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 1),
        "p95_ms": round(percentile(samples_ms, 95), 1),
        "max_ms": round(max(samples_ms), 1),
    }


def report(
    learners: list[Learner],
    *,
    posted_within_s: float,
    api_latency_ms: list[float],
    api_errors: int,
    cpu_per_start_s: dict[str, float | None],
    cores: int,
) -> dict[str, Any]:
    """The burst's figures: how many ran, the last ready, each outcome with its learners, the hub
    API's latency, and the CPU floor (CPU seconds per start x learners / cores)."""
    outcomes = {learner.name: outcome(learner) for learner in learners}
    counts = Counter(outcomes.values())
    ready = [learner.ready_s for learner in learners if learner.ready_s is not None]
    per_start = cpu_per_start_s.get("total_s")
    return {
        "learners": len(learners),
        "posted_within_s": posted_within_s,
        "counts": {name: counts.get(name, 0) for name in OUTCOMES},
        "last_ready_s": max(ready, default=None),
        "median_ready_s": round(statistics.median(ready), 1) if ready else None,
        "hub_api": {**latency_summary(api_latency_ms), "errors": api_errors},
        "cpu_per_start_s": cpu_per_start_s,
        "cpu_floor_s": (
            round(per_start * len(learners) / cores, 1) if per_start is not None else None
        ),
        "cores": cores,
        "not_running": {
            name: result for name, result in sorted(outcomes.items()) if result != RUNNING
        },
        "learner_details": [asdict(learner) for learner in learners],
    }


def all_running(figures: dict[str, Any]) -> bool:
    return figures["counts"][RUNNING] == figures["learners"]

"""The lecture-burst benchmark's report: each learner's outcome from what the hub answered, and
the figures (no cluster: the benchmark's pure part, with the hub's real failure messages)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from jupyterhub.utils import format_exception

from hubconfig.unschedulable import ClusterFull

# The benchmark is a script beside e2e's helpers, not an installed module.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e" / "benchmarks"))
import burst_report
from burst_report import Learner


def progress_failure(error: Exception) -> str:
    """The `failed` event's message, as JupyterHub's progress API words it."""
    return f"Spawn failed: {format_exception(error)[0]}"


FULL = progress_failure(ClusterFull("0/3 nodes are available: 1 Too many pods."))


@pytest.mark.parametrize(
    ("learner", "expected"),
    [
        (Learner("a", 200, ready_s=31.2), "running"),
        (Learner("b", 403, launch_error="403 Forbidden: bad OAuth signature"), "refused"),
        (Learner("c", 503), "refused"),
        (Learner("d", None, launch_error="ReadTimeout"), "refused"),
        (Learner("e", 200, failed_s=22.0, failure=FULL), "capacity"),
        (Learner("f", 200), "timeout"),
        (
            Learner(
                "g",
                200,
                failed_s=181,
                failure="Spawn failed: pod jupyterhub/jupyter-g did not start in 180 seconds!",
            ),
            "timeout",
        ),
        (Learner("i", 200, failed_s=186, failure=progress_failure(TimeoutError())), "timeout"),
        (Learner("j", 302, failed_s=2, failure="Spawn failed: image pull failed"), "failed"),
    ],
)
def test_each_learner_gets_the_outcome_of_what_the_hub_answered(
    learner: Learner, expected: str
) -> None:
    assert burst_report.outcome(learner) == expected


def test_the_report_counts_outcomes_and_divides_the_cpu_floor_by_the_cores() -> None:
    learners = [
        Learner("learner-001", 200, ready_s=12.5),
        Learner("learner-002", 200, ready_s=40.0),
        Learner("learner-003", 200, failed_s=20.1, failure=FULL),
        Learner("learner-004", 429, launch_error="429 Too Many Requests"),
    ]
    latencies = [float(ms) for ms in range(101)]

    figures = burst_report.report(
        learners,
        posted_within_s=9.8,
        api_latency_ms=latencies,
        api_errors=1,
        cpu_per_start_s={"lab_s": 2.0, "hub_and_proxy_s": 0.5, "total_s": 2.5},
        cores=2,
    )

    assert figures["counts"] == {
        "running": 2,
        "refused": 1,
        "capacity": 1,
        "timeout": 0,
        "failed": 0,
    }
    assert figures["last_ready_s"] == 40.0
    assert figures["hub_api"] == {
        "samples": 101,
        "p50_ms": 50.0,
        "p95_ms": 95.0,
        "max_ms": 100.0,
        "errors": 1,
    }
    assert figures["cpu_floor_s"] == 5.0
    assert figures["not_running"] == {"learner-003": "capacity", "learner-004": "refused"}
    assert not burst_report.all_running(figures)
    assert burst_report.all_running(burst_report.report(learners[:2], **no_extras()))


def no_extras() -> dict:
    return {
        "posted_within_s": 1.0,
        "api_latency_ms": [],
        "api_errors": 0,
        "cpu_per_start_s": {"total_s": None},
        "cores": 2,
    }

"""The LTI benchmark's side-by-side mode: both systems really run, and its ratio is theirs."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

# The benchmark is a script beside the tests, not an installed module (as e2e/benchmarks are).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import lti_launches

pytestmark = pytest.mark.integration

LAUNCHES, ROUNDS, WARM_UP = 6, 2, 10
SYSTEMS = ("stock", "project")


async def test_side_by_side_runs_stock_and_project_and_divides_their_figures(tmp_path: Path):
    measured, summaries = await lti_launches.side_by_side(
        ["lti11"], launches=LAUNCHES, rounds=ROUNDS, clients=2, workdir=tmp_path
    )

    logs = {
        s: (tmp_path / f"lti11-{s}" / "jupyterhub.log").read_text() for s in ("stock", "project")
    }
    assert "Using Authenticator: ltiauthenticator.lti11.auth.LTI11Authenticator" in logs["stock"]
    assert (
        "Using Authenticator: multilogin.authenticator.MultiLoginAuthenticator" in logs["project"]
    )
    for log in logs.values():
        assert log.count("302 POST /bench/hub/lti/launch") == WARM_UP + ROUNDS * LAUNCHES
    assert sorted((r["system"], r["round"]) for r in measured) == [
        ("project", 1),
        ("project", 2),
        ("stock", 1),
        ("stock", 2),
    ]
    assert all(r["failed"] == 0 and r["launches_per_s"] > 0 for r in measured)
    assert all(r["hub_cpu_ms_per_launch"] > 0 for r in measured)
    per_s = {(r["system"], r["round"]): r["launches_per_s"] for r in measured}
    cpu = {(r["system"], r["round"]): r["hub_cpu_ms_per_launch"] for r in measured}
    ratios = [per_s["project", n] / per_s["stock", n] for n in range(1, ROUNDS + 1)]
    cpu_ratios = [cpu["stock", n] / cpu["project", n] for n in range(1, ROUNDS + 1)]
    (summary,) = summaries
    assert summary["ratio"] == round(statistics.median(ratios), 3)
    assert summary["cpu_ratio"] == round(statistics.median(cpu_ratios), 3)
    stock_per_s = statistics.median(per_s["stock", n] for n in range(1, ROUNDS + 1))
    assert summary["stock"]["launches_per_s"] == round(stock_per_s, 1)


async def test_a_failed_launch_is_counted_not_raised():
    async def refused() -> float:
        raise RuntimeError("HTTP 401")

    outcomes = lti_launches.Outcomes()
    await outcomes.record(refused())

    assert (outcomes.failures, outcomes.latencies) == (1, [])
    assert "HTTP 401" in outcomes.first_failure


def test_the_benchmark_exits_1_when_a_launch_failed(monkeypatch: pytest.MonkeyPatch):
    failed = {"kind": "lti11", "failed": 1, "first_failure": "RuntimeError: HTTP 401"}

    async def one_failure(*args: object) -> tuple[list[dict], list[dict]]:
        return [failed], []

    monkeypatch.setattr(lti_launches, "side_by_side", one_failure)
    monkeypatch.setattr(sys, "argv", ["lti_launches.py", "--kinds", "lti11"])

    with pytest.raises(SystemExit) as exited:
        lti_launches.main()

    assert exited.value.code == 1


class CourseOf:
    """A hub whose course group's API answer lists `members` users."""

    def __init__(self, members: int) -> None:
        self.members = members

    def api(self, path: str) -> dict:
        assert path == f"groups/{lti_launches.COURSE_GROUP}"
        return {"users": [f"user-{n}" for n in range(self.members)]}


def test_a_launch_that_did_not_join_the_course_counts_as_failed():
    check = lti_launches._course_check(CourseOf(2000 + 15), size=2000, launched=16)

    assert check["failed"] == 1
    assert lti_launches.COURSE_GROUP in check["first_failure"]
    assert lti_launches._course_check(CourseOf(2016), size=2000, launched=16)["failed"] == 0


def test_course_sizes_are_compared_round_by_round_with_the_first_size():
    measured = [
        {"course_members": size, "hub_cpu_ms_per_launch": cpu, "p50_ms": 1.0}
        for size, cpu in [(0, 10.0), (2000, 12.0), (0, 20.0), (2000, 20.0), (0, 10.0), (2000, 13)]
    ]

    first, large = lti_launches._by_course_size([0, 2000], measured)

    assert (first["cpu_ratio"], large["cpu_ratio"]) == (1.0, 1.2)
    assert large["hub_cpu_ms_per_launch"] == 13

"""Tell a student soon that the cluster has no room for their lab, not at the start timeout.

The scheduler marks a pod it cannot place with the condition PodScheduled=False, reason
Unschedulable, and a one-line message ("0/3 nodes are available: 3 Insufficient cpu."). It keeps
retrying, so such a pod would wait until `singleuser.startTimeout`; `UnschedulableWatch` decides
when the wait has lasted long enough to give up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyterhub.spawner import SpawnException

# The scheduler's message is cluster text shown to a student: one line, printable, this long.
REASON_LIMIT = 200
# The metrics label of this failure; a SpawnException does not count toward the hub's
# consecutive_failure_limit, so a full cluster does not make the hub exit.
FAILURE_REASON = "cluster-full"
# Shown when the scheduler gave no message of its own.
NO_MESSAGE = "no node fits the lab"


def scheduler_reason(pod: Mapping[str, Any] | None) -> str | None:
    """The scheduler's message when it could not place `pod`; None while it may yet run."""
    if not pod:
        return None
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return str(condition.get("message") or "")
    return None


def short_reason(message: str) -> str:
    """The first line of the scheduler's message, printable, at most REASON_LIMIT long, and
    without its closing full stop (the sentence around it has its own)."""
    lines = message.strip().splitlines()
    line = "".join(char for char in lines[0] if char.isprintable()).strip() if lines else ""
    line = line.removesuffix(".") or NO_MESSAGE
    if len(line) > REASON_LIMIT:
        line = line[: REASON_LIMIT - 1].rstrip() + "…"
    return line


CLUSTER_FULL = "All lab machines are busy right now"


def cluster_full_message(reason: str) -> str:
    return (
        f"{CLUSTER_FULL} (the cluster has no room for this lab: "
        f"{short_reason(reason)}). Please try again in a few minutes."
    )


def is_cluster_full(message: str) -> bool:
    """Whether a failure shown to a student (e.g. the progress stream's "Spawn failed: ...") is
    this one; benchmarks count these apart from other failures."""
    return CLUSTER_FULL in message


class ClusterFull(SpawnException):
    """The failure the spawn page, its progress stream and the REST API show, without a traceback.

    The progress stream shows `jupyterhub_message` as is; without it, it would show the
    SpawnException's str, which names the class and the metrics label.
    """

    def __init__(self, scheduler_message: str) -> None:
        message = cluster_full_message(scheduler_message)
        super().__init__(message, reason=FAILURE_REASON, status_code=503)
        self.jupyterhub_message = message


class UnschedulableWatch:
    """Whether a pod has stayed unschedulable for longer than `grace_s`, by the hub's clock.

    The hub's own clock, not the condition's lastTransitionTime: the API server's clock may
    differ from the hub's, and the grace is about how long the student has waited.
    """

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._since: float | None = None

    def give_up_reason(self, pod: Mapping[str, Any] | None, now: float) -> str | None:
        """The scheduler's reason once `pod` has been unschedulable for longer than the grace;
        a pod that becomes schedulable, or disappears, starts the grace again."""
        reason = scheduler_reason(pod)
        if reason is None:
            self._since = None
            return None
        if self._since is None:
            self._since = now
        return reason if now - self._since >= self.grace_s else None

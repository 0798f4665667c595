"""Waiting for the cluster, where there is no page element to wait on."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 1.0


def wait_until(condition: Callable[[], object], *, timeout_s: float, what: str) -> None:
    """Poll `condition` until it is true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(POLL_S)

"""Progress output for long steps: what runs, how long it took, and what failed.

Steps that run beside others in a thread of their own (`lane`) prefix their lines with the
lane's name, so that two interleaved step logs stay readable.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_lanes = threading.local()


def say(message: str) -> None:
    """One progress line, flushed at once so that CI logs show it as it happens."""
    prefix = getattr(_lanes, "name", "")
    print(f"[{prefix}] {message}" if prefix else message, file=sys.stderr, flush=True)


@contextmanager
def lane(name: str) -> Iterator[None]:
    """This thread's progress lines, while inside, start with `[name]`."""
    _lanes.name = name
    try:
        yield
    finally:
        _lanes.name = ""


@contextmanager
def step(title: str) -> Iterator[None]:
    """Announce a step, then report its duration, or that it failed and after how long."""
    say(f"==> {title}")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"!!  {title}: failed after {time.monotonic() - started:.1f} s")
        raise
    say(f"<== {title}: done in {time.monotonic() - started:.1f} s")

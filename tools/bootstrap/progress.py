"""Progress output for long steps: what runs, how long it took, and what failed."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def say(message: str) -> None:
    """One progress line, flushed at once so that CI logs show it as it happens."""
    print(message, file=sys.stderr, flush=True)


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

"""A line for lab starts: at most `slots` pods are being started at once, the rest wait in turn.

JupyterHub's only bound on starts is `concurrent_spawn_limit`, which refuses the start over it
with a 429 and keeps no place in line. A lecture of a few hundred students clicking at 10:00 then
either gets refusals or, with the limit raised, that many pods starting together: on a small
cluster they share the CPU until most of them run past `start_timeout` (measured in
helm/README.md, "A lecture's burst"). With this line the starts beyond `slots` wait inside the
hub, before JupyterHub's start timer runs, and the spawn page tells each student their place.

One line per hub process, made once from `hub.concurrentStarts` and shared by every spawner.
Everything runs on the hub's event loop, so no lock is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any

from jupyterhub.spawner import SpawnException

# How often the spawn page's message is brought up to date while a start waits.
POSITION_POLL_S = 1.0


class LeftTheLine(SpawnException):
    """The start stopped waiting because its server was stopped before its turn came.

    A SpawnException, so that JupyterHub counts it as a refusal, not as one of the
    `consecutive_failure_limit` errors that make the hub exit.
    """

    def __init__(self) -> None:
        message = "This lab was stopped while it waited for its turn to start."
        super().__init__(message, reason="left-start-queue", status_code=409)
        self.jupyterhub_message = message


class StartQueue:
    """At most `slots` holders at once; the others are served in the order they came."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a start queue needs at least one slot, not {slots}")
        self.slots = slots
        self._holders: set[Hashable] = set()
        self._waiting: dict[Hashable, asyncio.Future[None]] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> StartQueue:
        # traitlets deep-copies a config value onto each Configurable that loads it
        # (Configurable._load_config); every spawner must share this one line, not a copy.
        return self

    def holds(self, key: Hashable) -> bool:
        return key in self._holders

    def position(self, key: Hashable) -> int | None:
        """1 for the next start to go, 2 for the one after it; None when `key` is not waiting."""
        for place, waiting in enumerate(self._waiting, start=1):
            if waiting == key:
                return place
        return None

    async def wait_turn(self, key: Hashable) -> None:
        """Return once `key` holds a slot; LeftTheLine when `leave(key)` came first."""
        if key in self._holders:
            return
        if len(self._holders) < self.slots and not self._waiting:
            self._holders.add(key)
            return
        turn = self._waiting.get(key) or asyncio.get_running_loop().create_future()
        self._waiting[key] = turn
        try:
            await turn
        except asyncio.CancelledError:
            # A slot handed over as this task was cancelled goes on to the next in line.
            self._waiting.pop(key, None)
            self.leave(key)
            raise

    def leave(self, key: Hashable) -> None:
        """Give up `key`'s slot or its place in line; nothing when it has neither."""
        turn = self._waiting.pop(key, None)
        if turn is not None and not turn.done():
            turn.set_exception(LeftTheLine())
        if key in self._holders:
            self._holders.discard(key)
            self._hand_on()

    def _hand_on(self) -> None:
        while self._waiting and len(self._holders) < self.slots:
            key, turn = next(iter(self._waiting.items()))
            del self._waiting[key]
            if not turn.done():
                self._holders.add(key)
                turn.set_result(None)


def waiting_message(position: int, slots: int) -> str:
    at_once = "one lab starts" if slots == 1 else f"{slots} labs start"
    return (
        f"Waiting for a free start: you are number {position} in line ({at_once} at a time). "
        "Keep this page open; your lab starts on its own."
    )


async def position_updates(
    queue: StartQueue, key: Hashable, starting: Callable[[], bool]
) -> AsyncIterator[dict[str, Any]]:
    """Progress events with `key`'s place in line, each time it changes, until its turn came
    or `starting()` says that no start is under way.

    The spawn page may open before the start joins the line or after its turn came and went;
    JupyterHub also ends this iteration when the start itself ends.
    """
    told = None
    while starting() and not queue.holds(key):
        position = queue.position(key)
        if position is not None and position != told:
            told = position
            yield {"progress": 0, "message": waiting_message(position, queue.slots)}
        await asyncio.sleep(POSITION_POLL_S)

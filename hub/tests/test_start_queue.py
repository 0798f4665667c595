"""The line of lab starts on its own: slots, order, leaving, cancelling, and the page's message."""

from __future__ import annotations

import asyncio

import pytest
from traitlets import Instance
from traitlets.config import Config, Configurable

from hubconfig import start_queue
from hubconfig.start_queue import LeftTheLine, StartQueue, position_updates


async def started(queue: StartQueue, key: str) -> asyncio.Task[None]:
    """A task waiting for `key`'s turn, let run until it holds a slot or stands in line."""
    task = asyncio.ensure_future(queue.wait_turn(key))
    await asyncio.sleep(0)
    return task


async def test_at_most_the_slots_hold_and_the_rest_go_in_the_order_they_came() -> None:
    queue = StartQueue(2)
    tasks = {key: await started(queue, key) for key in ("ann", "bob", "cem", "dan")}
    assert [queue.holds(key) for key in tasks] == [True, True, False, False]
    assert (queue.position("cem"), queue.position("dan"), queue.position("ann")) == (1, 2, None)
    queue.leave("bob")
    await asyncio.sleep(0)
    assert tasks["cem"].done() and queue.holds("cem")
    assert queue.position("dan") == 1 and not tasks["dan"].done()
    queue.leave("ann")
    await asyncio.sleep(0)
    assert tasks["dan"].done() and queue.holds("dan") and queue.position("dan") is None


async def test_a_newcomer_never_overtakes_the_line_when_a_slot_frees_for_an_instant() -> None:
    queue = StartQueue(1)
    await started(queue, "ann")
    bob = await started(queue, "bob")
    queue.leave("ann")
    cem = await started(queue, "cem")
    assert bob.done() and queue.holds("bob")
    assert not cem.done() and queue.position("cem") == 1


async def test_a_start_stopped_in_line_leaves_it_with_a_refusal_and_the_next_moves_up() -> None:
    queue = StartQueue(1)
    await started(queue, "ann")
    bob, cem = await started(queue, "bob"), await started(queue, "cem")
    queue.leave("bob")
    with pytest.raises(LeftTheLine) as refused:
        await bob
    assert refused.value.status_code == 409 and "waited for its turn" in str(refused.value)
    assert queue.position("cem") == 1
    queue.leave("ann")
    await cem
    assert queue.holds("cem")


async def test_a_cancelled_wait_gives_its_place_and_any_slot_just_handed_to_it_onwards() -> None:
    queue = StartQueue(1)
    await started(queue, "ann")
    bob, cem = await started(queue, "bob"), await started(queue, "cem")
    bob.cancel()
    await asyncio.gather(bob, return_exceptions=True)
    assert queue.position("cem") == 1
    dan = await started(queue, "dan")
    queue.leave("ann")  # hands the slot to cem ...
    cem.cancel()  # ... whose start is cancelled before it runs again
    await asyncio.gather(cem, return_exceptions=True)
    await asyncio.sleep(0)
    assert dan.done() and queue.holds("dan") and not queue.holds("cem")


async def test_leaving_twice_or_without_a_place_changes_nothing() -> None:
    queue = StartQueue(1)
    await started(queue, "ann")
    queue.leave("nobody")
    queue.leave("ann")
    queue.leave("ann")
    await started(queue, "bob")
    assert queue.holds("bob")


def test_every_configurable_given_the_line_by_config_shares_it_not_a_copy() -> None:
    class Spawnerish(Configurable):
        start_queue = Instance(StartQueue, config=True)

    line = StartQueue(2)
    config = Config()
    config.Spawnerish.start_queue = line
    first, second = Spawnerish(config=config), Spawnerish(config=config)
    assert first.start_queue is line and second.start_queue is line


async def test_the_spawn_page_hears_nothing_when_no_start_is_under_way() -> None:
    queue = StartQueue(1)
    await started(queue, "ann")
    events = [event async for event in position_updates(queue, "bob", lambda: False)]
    assert events == []


def test_a_line_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        StartQueue(0)


async def test_the_spawn_page_hears_each_new_place_then_nothing_once_the_turn_came(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(start_queue, "POSITION_POLL_S", 0.01)
    queue = StartQueue(1)
    await started(queue, "ann")
    await started(queue, "bob")
    cem = await started(queue, "cem")
    messages: list[str] = []

    async def follow() -> None:
        async for event in position_updates(queue, "cem", lambda: True):
            messages.append(event["message"])

    following = asyncio.ensure_future(follow())
    await asyncio.sleep(0.05)
    queue.leave("ann")
    await asyncio.sleep(0.05)
    queue.leave("bob")
    await cem
    await asyncio.wait_for(following, timeout=1)
    assert messages == [
        start_queue.waiting_message(2, 1),
        start_queue.waiting_message(1, 1),
    ]
    assert "you are number 2 in line (one lab starts at a time)" in messages[0]
    assert "(16 labs start at a time)" in start_queue.waiting_message(3, 16)

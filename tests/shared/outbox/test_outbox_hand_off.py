"""Outbox records handed to the relay by the writer that inserted them: published from
memory (never read back), in order, a window at a time, then deleted; dropped hand-offs,
or hand-offs to a collection with a backlog, are left to the ordinary pass."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

from shared.bus.port import PER_EVENT_WINDOW, EventBus
from shared.events import Event, new_event
from shared.outbox import OutboxRelay, outbox_records
from shared.store.port import Collection
from tests.shared.outbox.test_outbox_faults import backend
from tests.shared.outbox.test_outbox_relay import Noted, noted_things
from tests.support import eventually

__all__ = ["backend"]


class Watching:
    """The real bus; records each batch and, at each publish, how many records were
    published but not yet deleted (the most a crash at that moment publishes twice)."""

    def __init__(
        self, bus: EventBus, things: Collection, total: int, fail_at: int | None = None
    ) -> None:
        self._bus = bus
        self._things = things
        self._total = total
        self._fail_at = fail_at  # the publish (0-based) the bus is down for
        self._calls = 0
        self.batches: list[list[Event]] = []
        self.undeleted: list[int] = []

    async def publish_batch(self, events: Sequence[tuple[str, Event]]) -> None:
        call, self._calls = self._calls, self._calls + 1
        if call == self._fail_at:
            raise ConnectionError("bus down")
        await self._bus.publish_batch(events)
        self.batches.append([e for _, e in events])
        stored = await self._things.count({})
        self.undeleted.append(stored - (self._total - len(self.batches)))


def batch_of(count: int) -> tuple[list[Event], list[dict[str, Any]]]:
    events = [new_event(Noted(id=f"n{i:03}")) for i in range(count)]
    return events, outbox_records(events, PER_EVENT_WINDOW)


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        await relay.stop()
        await asyncio.wait_for(task, timeout=10)


async def drained(things: Collection) -> None:
    """Wait until every record is deleted (published, then cleared)."""

    async def empty() -> bool:
        return await things.count({}) == 0

    await eventually(empty, within=15)


async def hand_off_and_drain(
    relay: OutboxRelay, things: Collection, records: list[dict[str, Any]], events: list[Event]
) -> None:
    """With the relay running: insert the records, hand them off, wait until all are gone."""
    async with running(relay):
        await things.insert_many(records)
        relay.hand_off(things.name, records, events)
        await drained(things)


async def test_handed_off_records_go_out_from_memory_in_order_then_are_deleted(
    backend: dict[str, Any],
) -> None:
    async with noted_things(backend) as (store, bus, registry, things):
        events, records = batch_of(450)
        watching = Watching(bus, things, total=len(records))
        relay = OutboxRelay(store, watching, registry, [things.name], poll_interval=30)  # type: ignore[arg-type]
        await relay.relay_once()  # the first pass: nothing pending, hand-offs accepted now
        await hand_off_and_drain(relay, things, records, events)

        published = [e for batch in watching.batches for e in batch]
        assert [e.id for e in published] == [e.id for e in events]  # all, once, in order
        # The very objects handed over: nothing was read back and rebuilt.
        assert all(p is e for p, e in zip(published, events, strict=True))
        assert [len(b) for b in watching.batches] == [100, 100, 100, 100, 50]
        # A window's delete overlaps the next publish: never more than two undeleted.
        assert max(watching.undeleted) <= 2
        assert watching.undeleted[0] == 1


async def test_a_failed_hand_off_is_published_by_the_pass_nothing_lost(
    backend: dict[str, Any],
) -> None:
    async with noted_things(backend) as (store, bus, registry, things):
        events, records = batch_of(250)
        watching = Watching(bus, things, total=len(records), fail_at=0)
        relay = OutboxRelay(store, watching, registry, [things.name], poll_interval=0.05)  # type: ignore[arg-type]
        await relay.relay_once()
        await hand_off_and_drain(relay, things, records, events)

        published = [e for batch in watching.batches for e in batch]
        counts = Counter(e.id for e in published)
        assert sorted(counts) == sorted(e.id for e in events)
        assert set(counts.values()) == {1}  # the failed batch never reached the bus
        # Dropped after the failure: the pass read the records back (new objects).
        assert not any(p is e for p, e in zip(published, events, strict=True))


async def test_a_publish_failing_mid_hand_off_lets_the_previous_delete_finish(
    backend: dict[str, Any],
) -> None:
    """The first window went out; the second's publish fails: the first is deleted all the
    same (not published again by the pass), the rest is published once by the pass."""
    async with noted_things(backend) as (store, bus, registry, things):
        events, records = batch_of(250)
        watching = Watching(bus, things, total=len(records), fail_at=1)
        relay = OutboxRelay(store, watching, registry, [things.name], poll_interval=0.05)  # type: ignore[arg-type]
        await relay.relay_once()
        await hand_off_and_drain(relay, things, records, events)

        counts = Counter(e.id for batch in watching.batches for e in batch)
        assert sorted(counts) == sorted(e.id for e in events)
        assert set(counts.values()) == {1}


async def test_no_hand_off_while_the_pass_has_a_backlog(backend: dict[str, Any]) -> None:
    """Until a pass finds less than a full batch pending, records written before keep
    going out first: hand-offs to that collection are left to the pass."""
    async with noted_things(backend) as (store, bus, registry, things):
        older, older_records = batch_of(30)
        await things.insert_many(older_records)
        newer = [new_event(Noted(id=f"m{i:03}")) for i in range(30)]
        newer_records = outbox_records(newer, PER_EVENT_WINDOW)
        await things.insert_many(newer_records)
        watching = Watching(bus, things, total=2)
        relay = OutboxRelay(store, watching, registry, [things.name], poll_interval=0.05)  # type: ignore[arg-type]
        relay.hand_off(things.name, newer_records, newer)  # no pass yet: not taken
        async with running(relay):
            await drained(things)

        published = [e for batch in watching.batches for e in batch]
        assert [e.id for e in published] == [e.id for e in older + newer]  # oldest first
        assert not any(p is e for p in published for e in newer)  # read back by the pass

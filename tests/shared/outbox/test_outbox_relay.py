"""The relay's clean-up: a batch is cleared in bulk, except documents whose outbox grew
while it was publishing, which keep exactly the events it did not publish. And its window:
a crash between publishing and clearing publishes at most PER_EVENT_WINDOW events twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import pytest

from shared.bus.port import PER_EVENT_WINDOW, EventBus
from shared.events import Event, EventData, EventRegistry, new_event
from shared.outbox import (
    OUTBOX_FIELD,
    PENDING_FIELD,
    OutboxRelay,
    insert_with_events,
    outbox_records,
    update_with_events,
)
from shared.store.port import Collection, DocumentStore
from tests.shared.outbox.test_outbox_faults import backend, open_bus, open_store

__all__ = ["backend"]  # the fixture, shared with the fault tests


class AppendingWhilePublishing:
    """The real bus, plus a writer that appends to some documents right after a publish."""

    def __init__(self, bus: EventBus, append: Any) -> None:
        self._bus = bus
        self._append = append
        self.published: list[Event] = []

    async def publish_batch(self, events: Sequence[tuple[str, Event]]) -> None:
        await self._bus.publish_batch(events)
        self.published.extend(e for _, e in events)
        append, self._append = self._append, None
        if append is not None:
            await append()


class Recording:
    """The real bus, recording each batch; `crash_after` batches later it fails after
    publishing, as a relay killed between its publish and its clearing would."""

    def __init__(
        self, bus: EventBus, crash_after: int | None = None, expected: int | None = None
    ) -> None:
        self._bus = bus
        self._crash_after = crash_after
        self._expected = expected
        self.batches: list[list[Event]] = []
        self.all_published = asyncio.Event()

    async def publish_batch(self, events: Sequence[tuple[str, Event]]) -> None:
        await self._bus.publish_batch(events)
        self.batches.append([e for _, e in events])
        if sum(map(len, self.batches)) == self._expected:
            self.all_published.set()
        if self._crash_after is not None and len(self.batches) > self._crash_after:
            raise RuntimeError("killed after publishing")


class Noted(EventData):
    event_type: ClassVar[str] = "canteen.test.noted.window.v1"
    topic: ClassVar[str] = "set per test"
    source: ClassVar[str] = "/canteen/test"
    id: str


@asynccontextmanager
async def noted_things(
    backend: dict[str, Any],
) -> AsyncIterator[tuple[DocumentStore, EventBus, EventRegistry, Collection]]:
    """A store, a started bus with the backend's topic, a registry of `Noted`, and a fresh
    collection; closed after."""
    Noted.topic = backend["topic"]  # type: ignore[misc]
    registry = EventRegistry()
    registry.register(Noted)
    store, bus = open_store(backend["store"]), open_bus(backend["bus"])
    await bus.start()
    try:
        await bus.create_topics([backend["topic"]])
        yield store, bus, registry, store.collection(f"things_{uuid.uuid4().hex[:8]}")
    finally:
        await bus.close()
        await store.close()


async def test_a_crash_after_publishing_repeats_at_most_one_window(
    backend: dict[str, Any],
) -> None:
    # 250 documents, some with several events (edits between two relay passes), and one
    # with more events than the window: it goes alone, whole.
    expected: list[str] = []
    async with noted_things(backend) as (store, bus, registry, things):
        for i in range(250):
            count = 150 if i == 120 else 3 if i % 7 == 0 else 1
            ids = [f"d{i:03}-{n}" for n in range(count)]
            expected += ids
            await things.insert_one(
                insert_with_events({"_id": f"d{i:03}"}, [new_event(Noted(id=x)) for x in ids])
            )
        crashing = Recording(bus, crash_after=1)
        first = OutboxRelay(store, crashing, registry, [things.name])  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="killed after publishing"):
            await first.relay_once()
        recording = Recording(bus)
        second = OutboxRelay(store, recording, registry, [things.name])  # type: ignore[arg-type]
        while await second.relay_once():
            pass

        batches = crashing.batches + recording.batches
        published = Counter(e.data["id"] for batch in batches for e in batch)
        assert sorted(published) == sorted(expected)  # nothing lost
        twice = [x for x, n in published.items() if n > 1]
        assert 0 < len(twice) <= PER_EVENT_WINDOW
        assert max(len(b) for b in batches if len(b) != 150) <= PER_EVENT_WINDOW
        assert [len(b) for b in batches].count(150) == 1  # the big document, alone
        assert await things.count({PENDING_FIELD: True}) == 0


async def test_a_backlog_drains_without_waiting_for_the_poll(backend: dict[str, Any]) -> None:
    # More pending than one read (100 documents here): the relay goes on at once instead
    # of sleeping its poll interval (60 s here) between reads.
    async with noted_things(backend) as (store, bus, registry, things):
        recording = Recording(bus, expected=350)
        relay = OutboxRelay(
            store,
            recording,  # type: ignore[arg-type]
            registry,
            [things.name],
            poll_interval=60,
            batch_size=100,
        )
        await things.insert_many(
            [
                insert_with_events({"_id": f"d{i:03}"}, [new_event(Noted(id=str(i)))])
                for i in range(350)
            ]
        )
        task = asyncio.create_task(relay.run())
        try:
            await asyncio.wait_for(recording.all_published.wait(), timeout=30)
        finally:
            await relay.stop()
            await task
        assert len(recording.batches) >= 4


async def test_events_appended_during_a_publish_stay_pending(backend: dict[str, Any]) -> None:
    topic = backend["topic"]

    class Noted(EventData):
        event_type: ClassVar[str] = "canteen.test.noted.made.v1"
        topic: ClassVar[str] = backend["topic"]
        source: ClassVar[str] = "/canteen/test"
        id: str

    registry = EventRegistry()
    registry.register(Noted)
    store, bus = open_store(backend["store"]), open_bus(backend["bus"])
    await bus.start()
    await bus.create_topics([topic])
    things = store.collection(f"things_{uuid.uuid4().hex[:8]}")
    late = {d: new_event(Noted(id=f"{d}-late")) for d in ("t1", "t3")}

    async def append() -> None:
        for doc_id, event in late.items():
            await things.update_one(
                {"_id": doc_id}, update_with_events({"$set": {"edited": True}}, [event])
            )

    spy = AppendingWhilePublishing(bus, append)
    relay = OutboxRelay(store, spy, registry, [things.name])  # type: ignore[arg-type]
    try:
        for i in range(5):
            await things.insert_one(
                insert_with_events({"_id": f"t{i}"}, [new_event(Noted(id=f"t{i}"))])
            )

        assert await relay.relay_once() == 5
        pending = {d["_id"]: d for d in await things.find({PENDING_FIELD: True})}
        assert sorted(pending) == ["t1", "t3"]
        for doc_id, event in late.items():
            assert [r["id"] for r in pending[doc_id][OUTBOX_FIELD]] == [event.id]
        cleared = await things.find({"_id": {"$in": ["t0", "t2", "t4"]}})
        assert all(d[OUTBOX_FIELD] == [] and not d[PENDING_FIELD] for d in cleared)

        assert await relay.relay_once() == 2
        assert await things.count({PENDING_FIELD: True}) == 0
        assert sorted(e.data["id"] for e in spy.published) == sorted(
            [f"t{i}" for i in range(5)] + ["t1-late", "t3-late"]
        )
    finally:
        await bus.close()
        await store.close()


async def test_outbox_records_are_published_in_order_then_deleted(
    backend: dict[str, Any],
) -> None:
    """Records carry a batch's events in chunks of the window; the relay publishes them in
    write order and deletes them (the documents they announce are not rewritten). Killed
    between publishing and deleting, a record is published again: the same event ids."""
    async with noted_things(backend) as (store, bus, registry, things):
        events = [new_event(Noted(id=f"n{i:03}")) for i in range(250)]
        records = outbox_records(events, PER_EVENT_WINDOW)
        assert [len(r[OUTBOX_FIELD]) for r in records] == [100, 100, 50]
        await things.insert_many(records)

        crashing = Recording(bus, crash_after=0)
        first = OutboxRelay(store, crashing, registry, [things.name])  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="killed after publishing"):
            await first.relay_once()
        assert await things.count({}) == 3  # nothing deleted before the crash
        recording = Recording(bus)
        second = OutboxRelay(store, recording, registry, [things.name])  # type: ignore[arg-type]
        while await second.relay_once():
            pass

        again = [e.id for batch in recording.batches for e in batch]
        assert again == [e.id for e in events]  # everything, in order, the same ids
        assert [e.id for e in crashing.batches[0]] == [e.id for e in events[:100]]
        assert await things.count({}) == 0  # deleted, not left cleared

"""A nudged relay pass reads only the collections this process left events pending in;
the timer pass still reads them all (for writes by other processes)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from shared.events import new_event
from shared.outbox import OutboxRelay, insert_with_events, update_with_events
from shared.outbox.watch import WatchedStore
from shared.store.port import Collection
from tests.shared.outbox.test_outbox_faults import backend
from tests.shared.outbox.test_outbox_relay import Noted, Recording, noted_things
from tests.support import eventually

__all__ = ["backend"]


async def until(condition: Callable[[], bool]) -> None:
    async def probe() -> bool:
        return condition()

    await eventually(probe, within=15)


def count_finds(collection: Collection) -> list[int]:
    """Count the `find` calls on this collection object (the relay's pending scans)."""
    calls = [0]
    inner = collection.find

    async def find(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await inner(*args, **kwargs)

    collection.find = find  # type: ignore[method-assign]
    return calls


async def test_writes_mark_only_what_they_leave_pending(backend: dict[str, Any]) -> None:
    async with noted_things(backend) as (store, _, _, _):
        watched = WatchedStore(store)
        things = watched.collection(f"things_{uuid.uuid4().hex[:8]}")
        event = new_event(Noted(id="1"))

        await things.insert_one({"_id": "plain"})
        await things.update_one({"_id": "plain"}, {"$set": {"x": 1}})
        assert watched.take_pending() == set()

        await things.insert_one(insert_with_events({"_id": "a"}, [event]))
        assert watched.take_pending() == {things.name}
        assert watched.take_pending() == set()

        await things.update_one({"_id": "plain"}, update_with_events({"$set": {"x": 2}}, [event]))
        assert watched.take_pending() == {things.name}

        # The relay's clearing leaves nothing pending: no mark.
        await things.update_many({}, {"$set": {"_outbox": [], "_outbox_pending": False}})
        assert watched.take_pending() == set()

        await things.update_each([({"_id": "a"}, update_with_events({"$set": {"y": 1}}, [event]))])
        assert watched.take_pending() == {things.name}


async def test_a_nudged_pass_reads_only_the_collections_written(backend: dict[str, Any]) -> None:
    async with noted_things(backend) as (store, bus, registry, _):
        watched = WatchedStore(store)
        suffix = uuid.uuid4().hex[:8]
        quiet, busy = watched.collection(f"quiet_{suffix}"), watched.collection(f"busy_{suffix}")
        quiet_reads = count_finds(quiet)
        recording = Recording(bus)
        relay = OutboxRelay(
            watched,
            recording,  # type: ignore[arg-type]
            registry,
            [quiet.name, busy.name],
            poll_interval=60,  # no timer pass during the test
            pending=watched.take_pending,
        )
        task = asyncio.create_task(relay.run())
        try:
            await until(lambda: quiet_reads[0] == 1)  # the first pass reads every collection
            for i in range(3):
                await busy.insert_one(
                    insert_with_events({"_id": f"b{i}"}, [new_event(Noted(id=f"b{i}"))])
                )
                relay.notify()
                await until(lambda i=i: len(recording.batches) == i + 1)
            assert quiet_reads[0] == 1

            await quiet.insert_one(insert_with_events({"_id": "q"}, [new_event(Noted(id="q"))]))
            relay.notify()
            await until(lambda: len(recording.batches) == 4)
            assert quiet_reads[0] == 2
        finally:
            await relay.stop()
            await task
        assert [e.data["id"] for batch in recording.batches for e in batch] == [
            "b0",
            "b1",
            "b2",
            "q",
        ]


async def test_the_timer_pass_finds_events_written_elsewhere(backend: dict[str, Any]) -> None:
    async with noted_things(backend) as (store, bus, registry, things):
        watched = WatchedStore(store)
        recording = Recording(bus, expected=1)
        relay = OutboxRelay(
            watched,
            recording,  # type: ignore[arg-type]
            registry,
            [things.name],
            poll_interval=0.2,
            pending=watched.take_pending,
        )
        task = asyncio.create_task(relay.run())
        try:
            # Written through the unwatched store (as another process would) and no nudge.
            await things.insert_one(insert_with_events({"_id": "x"}, [new_event(Noted(id="x"))]))
            await asyncio.wait_for(recording.all_published.wait(), timeout=15)
        finally:
            await relay.stop()
            await task
        assert watched.take_pending() == set()

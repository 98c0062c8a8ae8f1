"""The relay's clean-up: a batch is cleared in bulk, except documents whose outbox grew
while it was publishing, which keep exactly the events it did not publish."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from shared.bus.port import EventBus
from shared.events import Event, EventData, EventRegistry, new_event
from shared.outbox import (
    OUTBOX_FIELD,
    PENDING_FIELD,
    OutboxRelay,
    insert_with_events,
    update_with_events,
)
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

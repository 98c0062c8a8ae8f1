"""A writer + relay process for the outbox fault-injection test.

Writes `count` documents, each with the event its write implies (one document write), and
runs the relay after each write. With `kill_at`, it SIGKILLs itself at that step of the
`kill_index`-th document: no clean-up, no flush, exactly like a crashed container.
Run as: python outbox_worker.py '<json spec>'
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any, ClassVar

from shared.bus.kafka import KafkaEventBus
from shared.bus.port import EventBus
from shared.bus.sqlite import SqliteEventBus
from shared.events import EventData, EventRegistry, new_event
from shared.outbox import OutboxRelay, RelayStep, insert_with_events
from shared.store.mongo import MongoDocumentStore
from shared.store.port import DocumentStore
from shared.store.sqlite import SqliteDocumentStore

COLLECTION = "things"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def make_store(spec: dict[str, Any]) -> DocumentStore:
    if spec["kind"] == "sqlite":
        return SqliteDocumentStore(spec["path"])
    return MongoDocumentStore(spec["uri"], spec["database"])


def make_bus(spec: dict[str, Any]) -> EventBus:
    if spec["kind"] == "sqlite":
        return SqliteEventBus(spec["path"], partitions=3)
    return KafkaEventBus(spec["servers"], client_id="outbox-worker", partitions=3)


async def main(spec: dict[str, Any]) -> None:
    class ThingMade(EventData):
        event_type: ClassVar[str] = "canteen.test.thing.made.v1"
        topic: ClassVar[str] = spec["topic"]
        source: ClassVar[str] = "/canteen/test"
        id: str
        n: int

    registry = EventRegistry()
    registry.register(ThingMade)
    store, bus = make_store(spec["store"]), make_bus(spec["bus"])
    await bus.start()
    await bus.create_topics([spec["topic"]])
    kill_at, kill_index = spec.get("kill_at"), spec.get("kill_index", -1)
    current = {"index": -1}

    def on_step(step: RelayStep, doc_id: str) -> None:
        if kill_at == step.value and doc_id == f"thing-{kill_index:04d}":
            die()

    relay = OutboxRelay(store, bus, registry, [COLLECTION], on_step=on_step)
    await relay.prepare()
    collection = store.collection(COLLECTION)
    for i in range(spec["first"], spec["first"] + spec["count"]):
        current["index"] = i
        doc_id = f"thing-{i:04d}"
        event = new_event(ThingMade(id=doc_id, n=i))
        if kill_at == "before_write" and i == kill_index:
            die()
        await collection.insert_one(
            insert_with_events({"_id": doc_id, "event_id": event.id}, [event])
        )
        if kill_at == "after_write" and i == kill_index:
            die()
        await relay.relay_once()
    while await relay.relay_once():
        pass
    await bus.close()
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))

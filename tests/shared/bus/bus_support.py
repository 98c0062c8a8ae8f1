"""Helpers of the event bus contract suite (imported by conftest and the tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.bus import EventBus, KafkaEventBus, SqliteEventBus
from shared.bus.namespaced import NamespacedEventBus
from shared.bus.port import Consumer
from shared.events.codec import Message
from shared.events.envelope import Event
from shared.ids import new_id


@dataclass
class BusFactory:
    """Builds buses of one adapter; `spec` rebuilds the same bus in a subprocess."""

    kind: str
    options: dict[str, Any]
    # With a namespace the bus under test is a NamespacedEventBus around the adapter.
    namespace: str | None = None
    opened: list[EventBus] = field(default_factory=list)

    def make(self) -> EventBus:
        return build_bus(self.spec())

    async def open(self) -> EventBus:
        bus = self.make()
        await bus.start()
        self.opened.append(bus)
        return bus

    def physical(self, name: str) -> str:
        """A topic or group name as the adapter underneath sees it."""
        return f"{self.namespace}.{name}" if self.namespace else name

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "options": self.options, "namespace": self.namespace}

    async def read_raw(self, topic: str, count: int, within: float = 30) -> list[Message]:
        """The first `count` messages of `topic` as stored, headers included."""
        if self.namespace:
            topic = f"{self.namespace}.{topic}"
        if self.kind == "sqlite":
            return await asyncio.wait_for(self._read_sqlite(topic, count), within)
        return await asyncio.wait_for(self._read_kafka(topic, count), within)

    async def _read_sqlite(self, topic: str, count: int) -> list[Message]:
        from shared.bus.sqlite_log import SqliteLog

        db = SqliteLog(self.options["path"], partitions=self.options["partitions"])
        try:
            while True:
                positions = {(topic, p): 0 for p in range(db.partitions(topic))}
                batches, _ = db.fetch(positions, 10_000)
                found = [r.message for records in batches.values() for r in records]
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.05)
        finally:
            db.close()

    async def _read_kafka(self, topic: str, count: int) -> list[Message]:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.options["bootstrap_servers"],
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=1000,
        )
        await consumer.start()
        found: list[Message] = []
        try:
            while len(found) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    found += [
                        Message(headers=dict(r.headers), key=r.key, value=r.value or b"")
                        for r in records
                    ]
            return found
        finally:
            await consumer.stop()


def build_bus(spec: dict[str, Any]) -> EventBus:
    """The bus a spec describes (also used by the crash-test subprocess)."""
    adapter = SqliteEventBus if spec["kind"] == "sqlite" else KafkaEventBus
    bus: EventBus = adapter(**spec["options"])
    namespace = spec.get("namespace")
    return NamespacedEventBus(bus, namespace) if namespace else bus


def make_event(key: str, n: int, *, pad: int = 0, traceparent: str | None = None) -> Event:
    return Event(
        id=new_id(),
        source="canteen.test",
        type="canteen.test.thing.happened.v1",
        subject=key,
        time=datetime.now(UTC),
        data={"key": key, "n": n, "pad": "x" * pad},
        traceparent=traceparent,
    )


async def eventually(
    predicate: Callable[[], bool], *, within: float = 30, interval: float = 0.02
) -> None:
    """Wait until `predicate()` holds; fail the test with a clear message at the deadline."""
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition not met within {within}s")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running(consumer: Consumer) -> AsyncIterator[Consumer]:
    """Run a consumer in the background for the block; stop it gracefully afterwards."""
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        await asyncio.wait_for(consumer.stop(), 60)
        await asyncio.wait_for(task, 60)

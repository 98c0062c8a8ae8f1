"""Fault injection: SIGKILL the writer/relay at each step; state and events must agree.

After the crash a fresh process drains the outbox. Then every stored document's event has
been published (nothing lost) and every published event belongs to a stored document
(nothing invented). Only the crash between publishing and clearing may publish an event
twice, which consumers absorb by event id.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shared.bus.kafka import KafkaEventBus
from shared.bus.port import EventBus
from shared.bus.sqlite import SqliteEventBus
from shared.events import Event
from shared.outbox import PENDING_FIELD
from shared.store.mongo import MongoDocumentStore
from shared.store.port import DocumentStore
from shared.store.sqlite import SqliteDocumentStore
from tests.support import engine_address, eventually

WORKER = Path(__file__).with_name("outbox_worker.py")
KILL_POINTS = ["before_write", "after_write", "fetched", "published", "cleared"]
COUNT, KILL_INDEX = 12, 5


@pytest.fixture(params=["embedded", pytest.param("external", marks=pytest.mark.engines)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    topic = f"test.outbox.{uuid.uuid4().hex[:10]}"
    if request.param == "embedded":
        return {
            "topic": topic,
            "store": {"kind": "sqlite", "path": str(tmp_path / "store.sqlite3")},
            "bus": {"kind": "sqlite", "path": str(tmp_path / "bus.sqlite3")},
        }
    return {
        "topic": topic,
        "store": {
            "kind": "mongo",
            "uri": engine_address("mongodb"),
            "database": f"test_outbox_{uuid.uuid4().hex[:10]}",
        },
        "bus": {"kind": "kafka", "servers": engine_address("kafka")},
    }


def open_store(spec: dict[str, Any]) -> DocumentStore:
    if spec["kind"] == "sqlite":
        return SqliteDocumentStore(spec["path"])
    return MongoDocumentStore(spec["uri"], spec["database"])


def open_bus(spec: dict[str, Any]) -> EventBus:
    if spec["kind"] == "sqlite":
        return SqliteEventBus(spec["path"], partitions=3)
    return KafkaEventBus(spec["servers"], client_id="outbox-test", partitions=3)


async def run_worker(spec: dict[str, Any]) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), json.dumps(spec), cwd=Path(__file__).parents[3]
    )
    return await asyncio.wait_for(proc.wait(), timeout=120)


@pytest.mark.parametrize("kill_at", KILL_POINTS)
async def test_state_and_published_events_agree_after_a_crash(
    backend: dict[str, Any], kill_at: str
) -> None:
    crashed = await run_worker(
        {**backend, "first": 0, "count": COUNT, "kill_at": kill_at, "kill_index": KILL_INDEX}
    )
    assert crashed == -signal.SIGKILL, "the worker should have been killed"
    # Restart: a fresh process writes the rest and drains whatever the crash left pending.
    resumed = await run_worker(
        {**backend, "first": KILL_INDEX + 1, "count": COUNT - KILL_INDEX - 1}
    )
    assert resumed == 0

    store = open_store(backend["store"])
    docs = await store.collection("things").find({}, sort=[("_id", 1)])
    assert await store.collection("things").count({PENDING_FIELD: True}) == 0
    await store.close()
    expected = {d["event_id"] for d in docs}
    expected_docs = COUNT - (1 if kill_at == "before_write" else 0)
    assert len(docs) == expected_docs

    seen: Counter[str] = Counter()

    async def collect(event: Event) -> None:
        seen[event.id] += 1

    bus = open_bus(backend["bus"])
    await bus.start()
    consumer = bus.consumer(
        group=f"verify-{uuid.uuid4().hex[:8]}", topics=[backend["topic"]], handler=collect
    )
    task = asyncio.create_task(consumer.run())
    try:

        async def published() -> set[str]:
            return set(seen)

        await eventually(published, until=lambda ids: expected <= ids, within=60)
    finally:
        await consumer.stop()
        await task
        await bus.close()

    assert set(seen) == expected, "an event was published for a write that never happened"
    duplicates = {i for i, n in seen.items() if n > 1}
    if kill_at != "published":
        assert not duplicates
    assert len(duplicates) <= 1

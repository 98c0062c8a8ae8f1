"""The embedded bus forgets events after its retention, as Kafka does after `retention.ms`.

SQLite-only: on Kafka, retention is the topics' broker configuration (docs/operations.md),
not something the adapter does. Without it `events.sqlite3` grows for as long as Canteen runs.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bus_support import eventually, make_event, running

from shared.bus import SqliteEventBus
from shared.bus.port import dlq_topic
from shared.bus.sqlite import Retention
from shared.events.envelope import Event

TOPIC = "test.retention"
HOUR = 3600.0


def stamps(path: Path, topic: str) -> list[float]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT ts FROM bus_log WHERE topic = ? ORDER BY ts", (topic,))
        return [r[0] for r in rows]


async def test_records_older_than_the_retention_go_and_consumers_read_on_from_the_oldest_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bus.sqlite3"
    bus = SqliteEventBus(str(path), partitions=3, topics=[TOPIC], poll_interval=0.02)
    await bus.start()
    try:
        old = [make_event(f"k{i % 5}", i) for i in range(40)]
        await bus.publish_batch([(TOPIC, e) for e in old])
        await bus.publish_batch([(dlq_topic(TOPIC), e) for e in old[:3]])
        cutoff = max(stamps(path, TOPIC)) + 1e-6
        young = [make_event(f"k{i % 5}", 100 + i) for i in range(10)]
        await bus.publish_batch([(TOPIC, e) for e in young])
        assert min(stamps(path, TOPIC)[-10:]) >= cutoff  # the two generations are apart

        retention = Retention(seconds=HOUR, dlq_seconds=24 * HOUR)
        assert await bus.prune(retention, now=cutoff + HOUR) == 40
        assert len(stamps(path, TOPIC)) == 10
        assert len(stamps(path, dlq_topic(TOPIC))) == 3  # dead letters are kept longer
        assert await bus.prune(retention, now=cutoff + HOUR) == 0  # idempotent

        # A group that never read (position 0, now before the oldest record) reads on from
        # the oldest kept: every young event once, none of the deleted ones.
        seen: list[Event] = []

        async def handler(event: Event) -> None:
            seen.append(event)

        consumer = bus.consumer(group="g-late", topics=[TOPIC], handler=handler)
        async with running(consumer):
            await eventually(lambda: len(seen) >= 10)
        assert sorted(e.id for e in seen) == sorted(e.id for e in young)

        # A day later the dead letters go too; new events are still appended after it all.
        assert await bus.prune(retention, now=cutoff + 25 * HOUR) == 13
        await bus.publish(make_event("k1", 999), topic=TOPIC)
        assert len(stamps(path, TOPIC)) == 1
    finally:
        await bus.close()


async def test_started_buses_prune_on_their_own_schedule(tmp_path: Path) -> None:
    """Two bus objects on one file (as in the all-in-one process) share the pruning."""
    path = tmp_path / "bus.sqlite3"
    retention = Retention(seconds=0.2, dlq_seconds=0.2, every_seconds=0.05)
    buses = [
        SqliteEventBus(str(path), partitions=1, topics=[TOPIC], retention=retention)
        for _ in range(2)
    ]
    for bus in buses:
        await bus.start()
    try:
        await buses[0].publish_batch([(TOPIC, make_event("k", i)) for i in range(5)])
        assert len(stamps(path, TOPIC)) == 5
        await eventually(lambda: not stamps(path, TOPIC), within=30)
    finally:
        for bus in buses:
            await bus.close()

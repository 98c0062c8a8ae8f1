"""Event bus throughput: publish N 1 KB events, then consume them all with one consumer.

    python bench/bench_bus.py [--kafka BOOTSTRAP] [-n 50000]

SqliteEventBus always; with --kafka also KafkaEventBus and, on the same broker in the same
run, a raw aiokafka produce/consume loop over the same bytes (the bus's overhead is the
ratio). Prints a markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.bus import EventBus, KafkaEventBus, SqliteEventBus
from shared.bus.kafka import best_compression
from shared.events.codec import encode
from shared.events.envelope import Event
from shared.ids import new_id

BATCH = 1000


@dataclass
class Result:
    name: str
    n: int
    publish_s: float
    consume_s: float
    cpu_s: float  # this process's CPU time, all threads: fair even on a busy machine

    def row(self) -> str:
        total = self.publish_s + self.consume_s
        return (
            f"| {self.name} | {self.n} | {self.n / self.publish_s:,.0f} | "
            f"{self.n / self.consume_s:,.0f} | {self.n / total:,.0f} | {self.n / self.cpu_s:,.0f} |"
        )


def make_events(n: int) -> list[Event]:
    now = datetime.now(UTC)
    return [
        Event(
            id=new_id(),
            source="canteen.bench",
            type="canteen.bench.thing.happened.v1",
            subject=f"key-{i % 1000}",
            time=now,
            data={"n": i, "pad": "x" * 860},  # with the ce_* headers: about 1 KB a message
        )
        for i in range(n)
    ]


async def bench_bus(name: str, bus: EventBus, events: list[Event]) -> Result:
    topic = f"bench.{uuid.uuid4().hex[:8]}"
    await bus.create_topics([topic])
    cpu = time.process_time()
    started = time.perf_counter()
    for i in range(0, len(events), BATCH):
        await bus.publish_batch([(topic, e) for e in events[i : i + BATCH]])
    published = time.perf_counter()
    seen = 0
    done = asyncio.Event()

    async def handler(event: Event) -> None:
        nonlocal seen
        seen += 1
        if seen >= len(events):
            done.set()

    consumer = bus.consumer(group=f"bench-{uuid.uuid4().hex[:8]}", topics=[topic], handler=handler)
    consume_started = time.perf_counter()
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(done.wait(), 600)
    consumed = time.perf_counter()
    cpu = time.process_time() - cpu
    await consumer.stop()
    await task
    return Result(name, len(events), published - started, consumed - consume_started, cpu)


async def bench_raw_kafka(bootstrap: str, events: list[Event]) -> Result:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()
    messages = [encode(e) for e in events]  # encoding is part of the bus's cost, not raw's
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        compression_type=best_compression(),
        linger_ms=5,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    cpu = time.process_time()
    started = time.perf_counter()
    for i in range(0, len(messages), BATCH):
        futures = [
            await producer.send(topic, m.value, key=m.key, headers=list(m.headers.items()))
            for m in messages[i : i + BATCH]
        ]
        await asyncio.gather(*futures)
    published = time.perf_counter()
    cpu = time.process_time() - cpu
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consume_started = time.perf_counter()
    consume_cpu = time.process_time()
    await consumer.start()
    seen = 0
    while seen < len(messages):
        batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
        seen += sum(len(records) for records in batches.values())
        if batches:
            await consumer.commit()
    consumed = time.perf_counter()
    cpu += time.process_time() - consume_cpu
    await consumer.stop()
    return Result("raw aiokafka", len(events), published - started, consumed - consume_started, cpu)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kafka", metavar="BOOTSTRAP", help="also bench Kafka on this broker")
    parser.add_argument("-n", type=int, default=50_000)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    events = make_events(args.n)
    size = len(encode(events[0]).value) + sum(
        len(k) + len(v) for k, v in encode(events[0]).headers.items()
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteEventBus(str(Path(tmp) / "bench.sqlite3"))
        await sqlite.start()
        results.append(await bench_bus("SqliteEventBus", sqlite, events))
        await sqlite.close()
    if args.kafka:
        kafka = KafkaEventBus(args.kafka, client_id="canteen-bench")
        await kafka.start()
        results.append(await bench_bus(f"KafkaEventBus ({kafka.compression})", kafka, events))
        await kafka.close()
        results.append(await bench_raw_kafka(args.kafka, events))
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{args.n} events of ~{size} bytes (value + headers), 3 partitions, one consumer\n")
    print("| bus | events | publish/s | consume/s | publish-then-consume/s | events/CPU-s |")
    print("|---|---|---|---|---|---|")
    for result in results:
        print(result.row())
    if args.kafka:
        bus_total = results[-2].publish_s + results[-2].consume_s
        raw_total = results[-1].publish_s + results[-1].consume_s
        print(f"\nKafkaEventBus / raw aiokafka throughput: {raw_total / bus_total:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

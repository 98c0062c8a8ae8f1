"""`SqliteEventBus`: the embedded default bus, a durable log in one SQLite file.

Every blocking SQLite call runs on a single-thread executor owned by its connection (the
bus has one, each consumer another), so the event loop never waits on the file lock.
Consumers poll, and are also woken at once by publishes in the same process, from any bus
object on the same file (the all-in-one process gives each service its own bus object).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import structlog

from shared.bus.delivery import Delivery, Record
from shared.bus.metrics import BusMetrics
from shared.bus.port import (
    MAX_BATCH,
    PER_EVENT_WINDOW,
    BatchHandler,
    Consumer,
    EventBus,
    Handler,
    RetryPolicy,
)
from shared.bus.sqlite_log import SqliteLog, TopicPartition
from shared.events.codec import Message, encode
from shared.events.envelope import Event

log = structlog.get_logger(__name__)
T = TypeVar("T")
_Fetched = tuple[dict[TopicPartition, list[Record]], dict[TopicPartition, int]]


class _Connection:
    """A SqliteLog confined to one worker thread."""

    def __init__(self, path: str, partitions: int) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="canteen-bus-sqlite")
        self._path = path
        self._partitions = partitions
        self._log: SqliteLog | None = None

    async def open(self) -> SqliteLog:
        self._log = await self.call(lambda: SqliteLog(self._path, partitions=self._partitions))
        return self._log

    @property
    def log(self) -> SqliteLog:
        if self._log is None:
            raise RuntimeError("SQLite bus connection is not open: call start() first")
        return self._log

    async def call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def close(self) -> None:
        if self._log is not None:
            await self.call(self._log.close)
            self._log = None
        self._executor.shutdown(wait=False)


@dataclass(frozen=True)
class Retention:
    """How long the log keeps records (Kafka's `retention.ms`), dead letters apart."""

    seconds: float
    dlq_seconds: float
    every_seconds: float = 600.0


# Consumers to wake per log file, shared by every bus object of this process on that file.
_WAKEUPS: dict[str, set[asyncio.Event]] = {}
# When a bus object of this process last pruned each log file (time.monotonic()).
_PRUNED_AT: dict[str, float] = {}


class SqliteEventBus(EventBus):
    def __init__(
        self,
        path: str,
        *,
        partitions: int = 3,
        topics: Sequence[str] = (),
        poll_interval: float = 0.05,
        lease_ttl: float = 10.0,
        fetch_limit: int = 1000,
        metrics: BusMetrics | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.path = path
        self.partitions = partitions
        self.topics = tuple(topics)
        self.poll_interval = poll_interval
        self.lease_ttl = lease_ttl
        self.fetch_limit = fetch_limit
        self.metrics = metrics or BusMetrics()
        self.retention = retention
        self._conn = _Connection(path, partitions)
        self._file = os.path.realpath(path)
        self._wakeups = _WAKEUPS.setdefault(self._file, set())
        self._pruner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        log_ = await self._conn.open()
        await self._conn.call(log_.create_schema)
        await self.create_topics(self.topics)
        if self.retention is not None:
            self._pruner = asyncio.create_task(self._prune_forever(self.retention))

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        await self._conn.close()

    async def prune(self, retention: Retention, now: float | None = None) -> int:
        """Delete what `retention` no longer keeps; how many records. On a connection of its
        own, so publishes and fetches of this bus never queue behind a long prune."""
        now = time.time() if now is None else now
        conn = _Connection(self.path, self.partitions)
        try:
            db = await conn.open()
            return await conn.call(
                lambda: db.prune(now - retention.seconds, now - retention.dlq_seconds)
            )
        finally:
            await conn.close()

    async def _prune_forever(self, retention: Retention) -> None:
        # Each process on the file prunes (deleting what is already gone is a no-op), but
        # only one of its bus objects per period: the all-in-one process has several.
        while True:
            await asyncio.sleep(retention.every_seconds)
            last = _PRUNED_AT.get(self._file)
            if last is not None and time.monotonic() - last < retention.every_seconds / 2:
                continue
            _PRUNED_AT[self._file] = time.monotonic()
            try:
                deleted = await self.prune(retention)
            except Exception:  # a locked or full disk: the log keeps growing, try later
                log.warning("bus.retention.failed", exc_info=True)
                continue
            if deleted:
                log.info("bus.retention.pruned", records=deleted)

    async def create_topics(self, topics: Sequence[str]) -> None:
        await self._conn.call(lambda: self._conn.log.create_topics(topics))

    async def publish(self, event: Event, *, topic: str) -> None:
        await self._append([(topic, encode(event))])
        log.debug("bus.event.published", topic=topic, event_id=event.id, event_type=event.type)

    async def publish_batch(self, events: Sequence[tuple[str, Event]]) -> None:
        await self._append([(topic, encode(event)) for topic, event in events])
        log.debug("bus.batch.published", count=len(events))

    async def publish_raw(self, topic: str, message: Message) -> None:
        await self._append([(topic, message)])

    async def _append(self, messages: list[tuple[str, Message]]) -> None:
        if not messages:
            return
        await self._conn.call(lambda: self._conn.log.append(messages))
        for topic in {t for t, _ in messages}:
            self.metrics.published.labels(topic).inc(sum(1 for t, _ in messages if t == topic))
        for wakeup in self._wakeups:
            wakeup.set()

    def consumer(
        self,
        *,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        retry: RetryPolicy = RetryPolicy(),
        batch_handler: BatchHandler | None = None,
        max_batch: int = MAX_BATCH,
    ) -> SqliteConsumer:
        return SqliteConsumer(
            self,
            group=group,
            topics=topics,
            handler=handler,
            retry=retry,
            batch_handler=batch_handler,
            max_batch=max_batch,
        )

    async def reset_offsets(
        self, *, group: str, topic: str, offset: int = 0, partition: int | None = None
    ) -> None:
        await self._conn.call(lambda: self._conn.log.reset_offsets(group, topic, offset, partition))
        log.info("bus.offsets.reset", group=group, topic=topic, offset=offset, partition=partition)

    async def ping(self) -> None:
        await self._conn.call(self._conn.log.ping)

    def _subscribe_wakeup(self, wakeup: asyncio.Event) -> None:
        self._wakeups.add(wakeup)

    def _unsubscribe_wakeup(self, wakeup: asyncio.Event) -> None:
        self._wakeups.discard(wakeup)


class SqliteConsumer(Consumer):
    def __init__(
        self,
        bus: SqliteEventBus,
        *,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        retry: RetryPolicy,
        batch_handler: BatchHandler | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.bus = bus
        self.group = group
        self.topics = tuple(topics)
        self.owner = f"{uuid.uuid4()}"
        # A fetch is what a crash redelivers: without a batch handler, one window over all
        # partitions (one document's events may travel under several keys); with one, one
        # batch per partition (batch handlers deduplicate with ids kept per document, as
        # many as a batch holds: the inbox's counters keep 512 for batches of 500).
        per_partition = max(1, PER_EVENT_WINDOW // bus.partitions)
        self.fetch_limit = max_batch if batch_handler else min(bus.fetch_limit, per_partition)
        self._delivery = Delivery(
            group=group,
            handler=handler,
            retry=retry,
            batch_handler=batch_handler,
            max_batch=max_batch,
            publish_raw=bus.publish_raw,
            metrics=bus.metrics,
        )
        self._positions: dict[TopicPartition, int] = {}
        self._wakeup = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False

    async def run(self) -> None:
        self._running = True
        conn = _Connection(self.bus.path, self.bus.partitions)
        db = await conn.open()
        self.bus._subscribe_wakeup(self._wakeup)
        heartbeat = asyncio.create_task(self._heartbeat(conn, db))
        log.info("bus.consumer.started", group=self.group, topics=self.topics, owner=self.owner)
        try:
            await self._consume(conn, db)
        finally:
            heartbeat.cancel()
            self.bus._unsubscribe_wakeup(self._wakeup)
            try:
                await asyncio.shield(conn.call(lambda: db.leave(self.group, self.owner)))
            finally:
                await asyncio.shield(conn.close())
                self._finished.set()
            log.info("bus.consumer.stopped", group=self.group, owner=self.owner)

    async def _consume(self, conn: _Connection, db: SqliteLog) -> None:
        stopping = self._delivery.stopping
        ttl = self.bus.lease_ttl
        next_rebalance = 0.0
        prefetched: asyncio.Future[_Fetched] | None = None
        while not stopping.is_set():
            if time.monotonic() >= next_rebalance:
                prefetched = None
                claimed = await conn.call(
                    lambda: db.rebalance(self.group, self.owner, self.topics, ttl)
                )
                # Everything done is committed before we get here, so committed == position.
                self._positions = claimed
                next_rebalance = time.monotonic() + ttl / 3
            positions = dict(self._positions)
            if prefetched is None:
                self._wakeup.clear()
                batches, heads = await self._fetch(conn, db, positions)
            else:
                batches, heads = await prefetched
                prefetched = None
            for (topic, partition), head in heads.items():
                lag = head - positions[(topic, partition)]
                self.bus.metrics.set_lag(self.group, topic, partition, lag)
            if not batches:
                idle = max(0.0, next_rebalance - time.monotonic())
                await self._idle(min(self.bus.poll_interval, idle))
                continue
            # Read the next batch while this one is handled; used only if this one completes.
            ahead = {**positions, **{tp: rs[-1].offset + 1 for tp, rs in batches.items()}}
            prefetched = asyncio.ensure_future(self._fetch(conn, db, ahead))
            done = await self._delivery.run_batches(batches)
            if done:
                lost = await conn.call(partial(db.commit, self.group, self.owner, done))
                for tp, offset in done.items():
                    if tp in lost:
                        log.warning(
                            "bus.partition.lost", group=self.group, topic=tp[0], partition=tp[1]
                        )
                        self._positions.pop(tp, None)
                    elif tp in self._positions:
                        self._positions[tp] = offset
            if self._positions != {tp: ahead[tp] for tp in self._positions}:
                prefetched = None

    async def _fetch(
        self, conn: _Connection, db: SqliteLog, positions: dict[TopicPartition, int]
    ) -> _Fetched:
        self._wakeup.clear()
        return await conn.call(lambda: db.fetch(positions, self.fetch_limit))

    async def _idle(self, seconds: float) -> None:
        stop = asyncio.ensure_future(self._delivery.stopping.wait())
        wake = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({stop, wake}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            wake.cancel()

    async def _heartbeat(self, conn: _Connection, db: SqliteLog) -> None:
        # Separate from the fetch loop so a long retry sequence does not let leases lapse.
        while True:
            await asyncio.sleep(self.bus.lease_ttl / 3)
            try:
                await conn.call(lambda: db.heartbeat(self.group, self.owner, self.bus.lease_ttl))
            except Exception as exc:
                log.warning("bus.heartbeat.failed", group=self.group, error=str(exc))

    async def stop(self) -> None:
        self._delivery.stopping.set()
        if self._running:
            await self._finished.wait()

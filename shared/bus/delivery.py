"""What happens to a fetched record, the same for every adapter.

Decode, call the handler with the event's ids bound in the log context, retry with
exponential backoff, dead-letter (original headers/key/value plus `dlq_*` headers) when the
event is malformed, poisonous or out of attempts. Adapters only fetch, hand records here
partition by partition, and commit the offsets this module reports as done.

With a batch handler, a partition's records go to it `max_batch` at a time (one round trip
for many events is what lets a projection keep up with the bus); a batch that raises is
delivered again event by event through the plain handler, so retries and dead letters stay
per event and one poison event never holds back its neighbours.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from shared.bus.metrics import BusMetrics
from shared.bus.port import (
    MAX_BATCH,
    BatchHandler,
    Handler,
    PoisonEvent,
    RetryPolicy,
    dlq_topic,
)
from shared.events.codec import MalformedMessage, Message, decode
from shared.events.envelope import Event
from shared.events.registry import InvalidEvent, UnknownEventType
from shared.unavailable import DependencyUnavailable

log = structlog.get_logger(__name__)

# Raised by `registry.parse` too: a handler that parses needs no try/except of its own.
POISON_ERRORS: tuple[type[Exception], ...] = (
    PoisonEvent,
    UnknownEventType,
    InvalidEvent,
    MalformedMessage,
)
MAX_ERROR_LENGTH = 1000

K = TypeVar("K", bound=Hashable)
RawPublisher = Callable[[str, Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    message: Message


class Abandoned(Exception):
    """The consumer is stopping while the record waits: leave it uncommitted for redelivery."""


def trace_id(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent (`00-<trace id>-<span id>-<flags>`)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


class Delivery:
    """Runs one group's handler over fetched records with retries and dead-lettering."""

    def __init__(
        self,
        *,
        group: str,
        handler: Handler,
        retry: RetryPolicy,
        publish_raw: RawPublisher,
        metrics: BusMetrics,
        batch_handler: BatchHandler | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.group = group
        self.handler = handler
        self.batch_handler = batch_handler
        self.max_batch = max_batch
        self.retry = retry
        self.publish_raw = publish_raw
        self.metrics = metrics
        self.stopping = asyncio.Event()
        self._children: dict[str, tuple[Any, Any]] = {}

    async def run_batches(self, batches: Mapping[K, Sequence[Record]]) -> dict[K, int]:
        """Handle each partition's records in order, partitions concurrently.

        Returns, per partition, the offset to commit (last done + 1); a partition with
        nothing done is absent. Stops early, between records, once `stopping` is set.
        """

        async def run_partition(records: Sequence[Record]) -> int | None:
            if self.batch_handler is not None:
                return await self._run_in_batches(records)
            done: int | None = None
            for record in records:
                if self.stopping.is_set():
                    break
                try:
                    await self.deliver(record)
                except Abandoned:
                    break
                done = record.offset + 1
            return done

        keys = list(batches)
        if len(keys) == 1:
            results = [await run_partition(batches[keys[0]])]
        else:
            results = await asyncio.gather(*(run_partition(batches[k]) for k in keys))
        return {k: r for k, r in zip(keys, results, strict=True) if r is not None}

    async def _run_in_batches(self, records: Sequence[Record]) -> int | None:
        done: int | None = None
        for start in range(0, len(records), self.max_batch):
            if self.stopping.is_set():
                break
            chunk = records[start : start + self.max_batch]
            try:
                await self._deliver_batch(chunk)
            except Abandoned:
                break
            done = chunk[-1].offset + 1
        return done

    async def _deliver_batch(self, chunk: Sequence[Record]) -> None:
        """Handle `chunk` in one call, or event by event if that call fails."""
        assert self.batch_handler is not None
        decoded: list[tuple[Record, Event]] = []
        for record in chunk:
            try:
                decoded.append((record, decode(record.message)))
            except MalformedMessage as exc:
                # In offset order: the dead letter precedes the batch of later events.
                await self._dead_letter(record, exc, attempts=0, reason="malformed")
        if not decoded:
            return
        topic = decoded[0][0].topic
        duration, handled = self._metrics_for(topic)
        started = time.perf_counter()
        waits = 0
        while True:
            try:
                await self.batch_handler([event for _, event in decoded])
            except DependencyUnavailable as exc:
                # The store is down, not the events: wait for it, then run the batch again.
                waits += 1
                await self._back_off("bus.batch.dependency_unavailable", decoded[0][0], waits, exc)
                continue
            except Exception as exc:
                await self._fall_back(decoded, exc, duration, started)
                return
            break
        duration.observe(time.perf_counter() - started)
        handled.inc(len(decoded))

    async def _fall_back(
        self,
        decoded: Sequence[tuple[Record, Event]],
        exc: Exception,
        duration: Any,
        started: float,
    ) -> None:
        """The batch failed: deliver its events one by one, with retries and dead letters."""
        topic = decoded[0][0].topic
        duration.observe(time.perf_counter() - started)
        log.warning(
            "bus.batch.failed",
            group=self.group,
            topic=topic,
            partition=decoded[0][0].partition,
            first_offset=decoded[0][0].offset,
            size=len(decoded),
            error=describe(exc),
        )
        self.metrics.batch_fallbacks.labels(self.group, topic).inc()
        for record, _ in decoded:
            if self.stopping.is_set():
                raise Abandoned from None
            await self.deliver(record)

    async def deliver(self, record: Record) -> None:
        """Return once the record is handled or dead-lettered; raise Abandoned if stopping."""
        try:
            event = decode(record.message)
        except MalformedMessage as exc:
            await self._dead_letter(record, exc, attempts=0, reason="malformed")
            return
        context = {"event_id": event.id, "event_type": event.type, "group": self.group}
        if (trace := trace_id(event.traceparent)) is not None:
            context["trace_id"] = trace
        duration, handled = self._metrics_for(record.topic)
        # bind/reset by tokens: half the cost of bound_contextvars, which is per event here.
        tokens = structlog.contextvars.bind_contextvars(**context)
        try:
            failures = waits = 0  # failures of the event itself; waits for a dependency
            while True:
                started = time.perf_counter()
                try:
                    await self.handler(event)
                except DependencyUnavailable as exc:
                    # Not the event's fault: an outage must not dead-letter anything. Wait
                    # for the dependency without spending one of the event's attempts.
                    duration.observe(time.perf_counter() - started)
                    waits += 1
                    await self._back_off("bus.handler.dependency_unavailable", record, waits, exc)
                except POISON_ERRORS as exc:
                    duration.observe(time.perf_counter() - started)
                    await self._dead_letter(record, exc, attempts=failures + 1, reason="poison")
                    return
                except Exception as exc:
                    duration.observe(time.perf_counter() - started)
                    failures += 1
                    if failures >= self.retry.max_attempts:
                        await self._dead_letter(record, exc, attempts=failures, reason="exhausted")
                        return
                    await self._back_off("bus.handler.failed", record, failures, exc)
                else:
                    duration.observe(time.perf_counter() - started)
                    handled.inc()
                    return
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    def _metrics_for(self, topic: str) -> tuple[Any, Any]:
        # Label lookups cost more than the observation itself; cache the children per topic.
        children = self._children.get(topic)
        if children is None:
            children = (
                self.metrics.handler_duration.labels(self.group, topic),
                self.metrics.handled.labels(self.group, topic),
            )
            self._children[topic] = children
        return children

    async def _back_off(self, name: str, record: Record, n: int, exc: Exception) -> None:
        """Log the `n`-th failure or wait of `record`, count a retry, sleep the backoff."""
        delay = self.retry.backoff(n)
        log.warning(
            name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempt=n,
            retry_in=delay,
            error=describe(exc),
        )
        self.metrics.retries.labels(self.group, record.topic).inc()
        await self._pause(delay)

    async def _pause(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), delay)
        except TimeoutError:
            return
        raise Abandoned

    async def _dead_letter(
        self, record: Record, exc: BaseException, *, attempts: int, reason: str
    ) -> None:
        error = describe(exc)
        headers = dict(record.message.headers)
        headers.update(
            dlq_error=error.encode(),
            dlq_attempts=str(attempts).encode(),
            dlq_group=self.group.encode(),
            dlq_original_topic=record.topic.encode(),
            dlq_original_partition=str(record.partition).encode(),
            dlq_original_offset=str(record.offset).encode(),
        )
        message = Message(headers=headers, key=record.message.key, value=record.message.value)
        target = dlq_topic(record.topic)
        failures = 0
        # The offset cannot be committed before the dead letter is durable: insist.
        while True:
            try:
                await self.publish_raw(target, message)
                break
            except Exception as publish_exc:
                failures += 1
                log.error(
                    "bus.dead_letter.failed",
                    topic=target,
                    attempt=failures,
                    error=describe(publish_exc),
                )
                await self._pause(self.retry.backoff(failures))
        self.metrics.dead_letters.labels(self.group, record.topic, reason).inc()
        log.error(
            "bus.event.dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
            attempts=attempts,
            error=error,
        )

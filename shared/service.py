"""A service's runtime: its store, its bus, its outbox relay and its consumers.

One `ServiceRuntime` per service. The HTTP lifespan starts it before serving and stops it
after; in the all-in-one process several runtimes live side by side, each with its own store
and bus connection, so they still meet only on the event bus.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from shared.bus.port import MAX_BATCH, BatchHandler, Consumer, EventBus, Handler, RetryPolicy
from shared.events.envelope import Event
from shared.events.registry import EventRegistry
from shared.outbox.relay import OutboxRelay
from shared.outbox.watch import WatchedStore
from shared.store.port import DocumentStore

log = structlog.get_logger()

Setup = Callable[[], Awaitable[None]]
# A long-running job of the service (a scheduler, a delivery worker): runs until cancelled.
Background = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Subscription:
    """A consumer group of this service: which topics, which handler."""

    group: str
    topics: Sequence[str]
    handler: Handler
    # Optional fast path over many events at once; `handler` stays the per-event fallback.
    batch_handler: BatchHandler | None = None
    # The most events one call of `batch_handler` gets.
    max_batch: int = MAX_BATCH


@dataclass
class ServiceRuntime:
    name: str
    store: DocumentStore
    bus: EventBus
    registry: EventRegistry
    outbox_collections: Sequence[str] = ()
    subscriptions: Sequence[Subscription] = ()
    setup: Sequence[Setup] = ()
    background: Sequence[Background] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    outbox_poll_seconds: float = 0.5
    relay: OutboxRelay | None = None
    _consumers: list[Consumer] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.outbox_collections and self.relay is None:
            self.relay = OutboxRelay(
                self.store,
                self.bus,
                self.registry,
                self.outbox_collections,
                poll_interval=self.outbox_poll_seconds,
                pending=self.store.take_pending if isinstance(self.store, WatchedStore) else None,
            )

    async def start(self) -> None:
        """Connect, prepare indexes, then start the relay and the consumers."""
        await self.bus.start()
        for step in self.setup:
            await step()
        if self.relay is not None:
            await self.relay.prepare()
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}.relay"))
        for job in self.background:
            self._tasks.append(asyncio.create_task(job(), name=f"{self.name}.background"))
        for sub in self.subscriptions:
            consumer = self.bus.consumer(
                group=sub.group,
                topics=sub.topics,
                handler=sub.handler,
                retry=self.retry,
                batch_handler=sub.batch_handler,
                max_batch=sub.max_batch,
            )
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run(), name=f"{sub.group}.consumer"))
        log.info("service.started", service=self.name, consumers=len(self._consumers))

    async def stop(self) -> None:
        """Stop consumers gracefully (finish, commit), stop the relay, close connections."""
        for consumer in self._consumers:
            await consumer.stop()
        if self.relay is not None:
            await self.relay.stop()
        for task in self._tasks:
            if task.get_name().endswith(".background"):
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
        self._tasks.clear()
        self._consumers.clear()
        await self.bus.close()
        await self.store.close()
        log.info("service.stopped", service=self.name)

    def notify_outbox(self) -> None:
        """Tell the relay a write just appended events (saves a poll interval of latency)."""
        if self.relay is not None:
            self.relay.notify()

    def hand_off_outbox(
        self, collection: str, records: list[dict[str, Any]], events: list[Event]
    ) -> None:
        """Outbox records a write just inserted, with their events: the relay publishes
        them without reading them back (see `OutboxRelay.hand_off`)."""
        if self.relay is not None:
            self.relay.hand_off(collection, records, events)

    async def check_store(self) -> None:
        await self.store.ping()

    async def check_bus(self) -> None:
        await self.bus.ping()

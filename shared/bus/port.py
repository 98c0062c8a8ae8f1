"""The event bus port: publish CloudEvents to topics, consume them in groups.

Both adapters give the same guarantees, checked by one contract suite
(`tests/shared/bus/test_bus_contract.py`): at-least-once delivery, per-key order, offsets
committed only after the handler succeeded or the event was dead-lettered, bounded retries
then `<topic>.dlq`, independent consumer groups, graceful stop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from shared.bus.metrics import BusMetrics
from shared.events.codec import Message
from shared.events.envelope import Event

Handler = Callable[[Event], Awaitable[None]]
# Consecutive events of one partition, in offset order: one round trip for many events.
BatchHandler = Callable[[Sequence[Event]], Awaitable[None]]

DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


class PoisonEvent(Exception):
    """An event that can never succeed: dead-letter it at once, without retries."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failing handler is retried before dead-lettering."""

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th failure (1-based)."""
        return min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))


# How many records a consumer without a batch handler takes between commits, so the most a
# crash or a rebalance redelivers; and the most events an outbox relay publishes before it
# clears them, so the most a relay crash publishes twice (two windows for records handed
# off by their writer, whose delete overlaps the next publish). Per-event handlers deduplicate by
# the event ids a target document keeps (`_applied`, capped at 200-256 per document): a
# redelivery must never reach back further than that, even when every event of the window
# concerns one document (a popular post's reactions while a backlog drains). A commit per
# 100 records costs nothing next to 100 handled events.
PER_EVENT_WINDOW = 100

# How many consecutive events of one partition a batch handler gets at most, unless its
# subscription says otherwise. It also bounds what a batch's failure runs again event by
# event, and what a crash redelivers (a batch consumer commits every batch): a handler
# that deduplicates with ids kept per document must keep more than this many. A consumer
# whose batch costs a few round trips whatever its size (a projection) does better with
# more (see the expertise subscription).
MAX_BATCH = 500


class Consumer(ABC):
    """One member of a consumer group, running a handler over its share of partitions."""

    @abstractmethod
    async def run(self) -> None:
        """Consume until `stop()`; commits only what the handler finished (at-least-once)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop fetching, let the in-flight event finish, commit, leave the group."""


class EventBus(ABC):
    """A partitioned, durable log of events with consumer groups."""

    metrics: BusMetrics

    @abstractmethod
    async def start(self) -> None:
        """Connect and create the configured topics (with their dead-letter topics)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def create_topics(self, topics: Sequence[str]) -> None:
        """Create topics and their `.dlq` topics if missing (idempotent)."""

    @abstractmethod
    async def publish(self, event: Event, *, topic: str) -> None:
        """Append one event, keyed by its subject; returns once it is durable."""

    @abstractmethod
    async def publish_batch(self, events: Sequence[tuple[str, Event]]) -> None:
        """Append (topic, event) pairs; per-key order follows the sequence order."""

    @abstractmethod
    async def publish_raw(self, topic: str, message: Message) -> None:
        """Append wire bytes as they are: dead letters, replays, malformed-input tests."""

    @abstractmethod
    def consumer(
        self,
        *,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        retry: RetryPolicy = RetryPolicy(),
        batch_handler: BatchHandler | None = None,
        max_batch: int = MAX_BATCH,
    ) -> Consumer:
        """A group member. With `batch_handler`, fetched records go to it in batches of
        up to `max_batch` consecutive events of one partition; when a batch raises, its
        events are delivered one by one to `handler` with the usual retries and
        dead-lettering. So a batch handler must leave exactly the state `handler` would,
        and be safe to repeat."""

    @abstractmethod
    async def reset_offsets(
        self, *, group: str, topic: str, offset: int = 0, partition: int | None = None
    ) -> None:
        """Make `group` resume `topic` at `offset` (replay); call while the group is stopped."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the bus cannot serve requests (readiness)."""

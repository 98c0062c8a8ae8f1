"""An EventBus decorator that prefixes every topic and consumer group with a namespace.

Several Canteen deployments (or test runs) can share one Kafka cluster without seeing each
other's events: `canteen.activity` becomes `<namespace>.canteen.activity`, group `search`
becomes `<namespace>.search`. Services keep using the logical names.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.bus.metrics import BusMetrics
from shared.bus.port import MAX_BATCH, BatchHandler, Consumer, EventBus, Handler, RetryPolicy
from shared.events.codec import Message
from shared.events.envelope import Event


class NamespacedEventBus(EventBus):
    def __init__(self, inner: EventBus, namespace: str) -> None:
        if not namespace or "." in namespace.strip("."):
            raise ValueError("namespace must be a non-empty name without dots")
        self.inner = inner
        self.namespace = namespace
        self.metrics: BusMetrics = inner.metrics

    def _name(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def create_topics(self, topics: Sequence[str]) -> None:
        await self.inner.create_topics([self._name(t) for t in topics])

    async def publish(self, event: Event, *, topic: str) -> None:
        await self.inner.publish(event, topic=self._name(topic))

    async def publish_batch(self, events: Sequence[tuple[str, Event]]) -> None:
        await self.inner.publish_batch([(self._name(t), e) for t, e in events])

    async def publish_raw(self, topic: str, message: Message) -> None:
        await self.inner.publish_raw(self._name(topic), message)

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
        return self.inner.consumer(
            group=self._name(group),
            topics=[self._name(t) for t in topics],
            handler=handler,
            retry=retry,
            batch_handler=batch_handler,
            max_batch=max_batch,
        )

    async def reset_offsets(
        self, *, group: str, topic: str, offset: int = 0, partition: int | None = None
    ) -> None:
        await self.inner.reset_offsets(
            group=self._name(group), topic=self._name(topic), offset=offset, partition=partition
        )

    async def ping(self) -> None:
        await self.inner.ping()

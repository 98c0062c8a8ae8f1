"""`KafkaEventBus`: the bus on Apache Kafka (aiokafka), CloudEvents in binary mode.

The producer is idempotent with acks=all, so a retried send neither duplicates nor
reorders a partition. Consumers commit manually, only what the shared `Delivery` reports
done; a rebalance waits for the batch in flight, whose offsets are committed before the
partitions move, so a clean hand-over redelivers nothing.

While the broker is unreachable aiokafka retries on its own; the adapter keeps that cheap
(aio-libs/aiokafka#496): see `RETRY_BACKOFF_MS` and `pace_failed_refreshes`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import aiokafka
import structlog
from aiokafka import (
    AIOKafkaClient,
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka import codec as kafka_codec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context

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
    dlq_topic,
)
from shared.events.codec import Message, encode
from shared.events.envelope import Event

log = structlog.get_logger(__name__)

# aiokafka retries a failed request after a fixed retry_backoff_ms (default 100 ms). While the
# broker is down, each consumer's fetch and coordinator loops and the producer's sender fail
# at once (connection refused), so each opened a connection ten times a second. A quarter of
# a second keeps an outage cheap (~25 attempts a second for a process with three consumer
# groups) and still finds the broker within a second of its return; 500 ms slowed consumer
# group joins that meet a retriable error (the bus contract suite's Kafka half: +40%).
RETRY_BACKOFF_MS = 250
# Fetches a partition that finished before the others takes on at once (see
# `KafkaConsumer._run_partitions`); bounded, so a rebalance waiting for the batch lock
# waits for a few batches at most.
CONTINUE_ROUNDS = 3
CONTINUE_FETCH_SECONDS = 1.0


def pace_failed_refreshes(client: AIOKafkaClient, backoff_ms: int) -> None:
    """Make a metadata refresh that reached no broker answer only after `backoff_ms`.

    Some aiokafka 0.14 loops wait for a forced refresh and no backoff at all: the sender while
    a pending batch's partition has no known leader, the fetcher while an assigned partition
    has none. If the broker's last answer, given while it shut down, named no leader, they
    spin at 100% CPU for the whole outage, thousands of refused connections a second; no
    option reaches them (retry_backoff_ms is not applied there, metadata_max_age_ms paces
    only the periodic refresh). Every refresh runs through the client's `_metadata_update`
    (the synchronizer task and fetch_all_metadata), so pacing its failures paces them all,
    and refreshes asked for meanwhile share the one in flight. A private method of the 0.14
    series (pinned in pyproject.toml): re-check it, and #496, before moving to another.
    """
    if not aiokafka.__version__.startswith("0.14."):
        raise RuntimeError(
            f"pace_failed_refreshes targets aiokafka 0.14, not {aiokafka.__version__}"
        )
    refresh = client._metadata_update

    async def paced(cluster: Any, topics: Any) -> bool:
        updated: bool = await refresh(cluster, topics)
        if not updated:
            await asyncio.sleep(backoff_ms / 1000)
        return updated

    client._metadata_update = paced


def best_compression() -> str:
    """lz4 when its library (cramjam, a dependency) is installed, else gzip (needs none).

    lz4 for CPU: aiokafka compresses gzip at level 9, in Python's zlib, and it was 5% of the
    notify process's CPU relaying notifications' events; with lz4 (or zstd, close behind),
    the process used 7% less CPU per event and handled 4.5% more events a second
    (docs/performance.md). The Kafka of the stack reads every codec.
    """
    if kafka_codec.has_lz4():
        return "lz4"
    return "gzip"


class KafkaEventBus(EventBus):
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "canteen",
        partitions: int = 3,
        replication_factor: int = 1,
        topics: Sequence[str] = (),
        compression: str | None = "auto",
        retry_backoff_ms: int = RETRY_BACKOFF_MS,
        security_protocol: str = "PLAINTEXT",
        sasl_mechanism: str | None = None,
        sasl_plain_username: str | None = None,
        sasl_plain_password: str | None = None,
        ssl_cafile: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        producer_options: Mapping[str, Any] | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        metrics: BusMetrics | None = None,
    ) -> None:
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.topics = tuple(topics)
        self.compression = best_compression() if compression == "auto" else compression
        self.metrics = metrics or BusMetrics()
        self._client: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "security_protocol": security_protocol,
            "retry_backoff_ms": retry_backoff_ms,
        }
        if sasl_mechanism:
            self._client.update(
                sasl_mechanism=sasl_mechanism,
                sasl_plain_username=sasl_plain_username,
                sasl_plain_password=sasl_plain_password,
            )
        self._ssl_files = (ssl_cafile, ssl_certfile, ssl_keyfile)
        self._producer_options = dict(producer_options or {})
        self.consumer_options = dict(consumer_options or {})
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._known_topics: set[str] = set()

    def client_options(self) -> dict[str, Any]:
        options = dict(self._client)
        if options["security_protocol"] in ("SSL", "SASL_SSL"):
            # Built lazily (reads files): constructing the bus must stay free of I/O.
            cafile, certfile, keyfile = self._ssl_files
            options["ssl_context"] = create_ssl_context(
                cafile=cafile, certfile=certfile, keyfile=keyfile
            )
        return options

    async def start(self) -> None:
        options = self.client_options()
        self._admin = AIOKafkaAdminClient(**options)
        await self._admin.start()
        producer_options = {
            **options,
            "enable_idempotence": True,
            "acks": "all",
            "compression_type": self.compression,
            "linger_ms": 5,
            "max_batch_size": 512 * 1024,
            **self._producer_options,
        }
        self._producer = AIOKafkaProducer(**producer_options)
        pace_failed_refreshes(self._producer.client, producer_options["retry_backoff_ms"])
        await self._producer.start()
        await self.create_topics(self.topics)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("Kafka bus is not started: call start() first")
        return self._producer

    async def create_topics(self, topics: Sequence[str]) -> None:
        names = {n for t in topics for n in (t, dlq_topic(t))} - self._known_topics
        if not names:
            return
        if self._admin is None:
            raise RuntimeError("Kafka bus is not started: call start() first")
        new = [NewTopic(n, self.partitions, self.replication_factor) for n in sorted(names)]
        try:
            response = await self._admin.create_topics(new)
        except TopicAlreadyExistsError:
            response = None
        for topic, code, *_ in getattr(response, "topic_errors", ()):
            error = for_code(code)
            if code and error is not TopicAlreadyExistsError:
                raise error(f"cannot create topic {topic!r}")
        self._known_topics |= names
        log.info("bus.topics.created", topics=sorted(names))

    async def publish(self, event: Event, *, topic: str) -> None:
        await self.publish_raw(topic, encode(event))
        log.debug("bus.event.published", topic=topic, event_id=event.id, event_type=event.type)

    async def publish_batch(self, events: Sequence[tuple[str, Event]]) -> None:
        await self.create_topics(sorted({topic for topic, _ in events} - self._known_topics))
        # send() only enqueues; awaiting all acks together lets the producer batch them.
        pending = [await self._send(topic, encode(event)) for topic, event in events]
        await asyncio.gather(*pending)
        for topic, _ in events:
            self.metrics.published.labels(topic).inc()
        log.debug("bus.batch.published", count=len(events))

    async def publish_raw(self, topic: str, message: Message) -> None:
        if topic not in self._known_topics:
            await self.create_topics([topic.removesuffix(".dlq")])
        await (await self._send(topic, message))
        self.metrics.published.labels(topic).inc()

    async def _send(self, topic: str, message: Message) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self.producer.send(
            topic, value=message.value, key=message.key, headers=list(message.headers.items())
        )
        return future

    def consumer(
        self,
        *,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        retry: RetryPolicy = RetryPolicy(),
        batch_handler: BatchHandler | None = None,
        max_batch: int = MAX_BATCH,
    ) -> KafkaConsumer:
        return KafkaConsumer(
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
        # Committing without joining (generation -1) is accepted only while the group is
        # empty, which is exactly the precondition of a reset.
        partitions = await self.producer.partitions_for(topic)
        targets = sorted(partitions) if partition is None else [partition]
        consumer = AIOKafkaConsumer(
            group_id=group, enable_auto_commit=False, **self.client_options()
        )
        consumer.assign([TopicPartition(topic, p) for p in targets])
        await consumer.start()
        try:
            await consumer.commit({TopicPartition(topic, p): offset for p in targets})
        finally:
            await consumer.stop()
        log.info("bus.offsets.reset", group=group, topic=topic, offset=offset, partition=partition)

    async def ping(self) -> None:
        if self._admin is None:
            raise RuntimeError("Kafka bus is not started")
        await self._admin.list_topics()


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: KafkaConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # aiokafka marks the reassignment before calling us, and a `getmany` waits for it to
        # end: the fetch loop, holding the lock, must stop taking more (see `rebalancing`).
        self._consumer.rebalancing = True
        # The fetch loop holds the lock while handling and committing a batch: once we own
        # it, every handled offset of the revoked partitions is committed.
        async with self._consumer.batch_lock:
            log.info("bus.partitions.revoked", group=self._consumer.group, count=len(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._consumer.rebalancing = False
        log.info(
            "bus.partitions.assigned",
            group=self._consumer.group,
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )


class KafkaConsumer(Consumer):
    def __init__(
        self,
        bus: KafkaEventBus,
        *,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        retry: RetryPolicy,
        batch_handler: BatchHandler | None = None,
        max_batch: int = MAX_BATCH,
        max_records: int = 1000,
    ) -> None:
        self.bus = bus
        self.group = group
        self.topics = tuple(topics)
        # A fetch (committed once handled) is what a crash redelivers: without a batch
        # handler, one window; with one, one batch (batch handlers deduplicate with ids
        # kept per document, as many as a batch holds: the inbox's counters keep 512 for
        # batches of 500). A fetch over several partitions runs them concurrently.
        self.max_records = max_batch if batch_handler else min(max_records, PER_EVENT_WINDOW)
        self.batch_lock = asyncio.Lock()
        # Set from a rebalance's start to its new assignment: no `getmany` under the lock then
        # (it would wait for the assignment, which waits for the lock).
        self.rebalancing = False
        self._delivery = Delivery(
            group=group,
            handler=handler,
            retry=retry,
            batch_handler=batch_handler,
            max_batch=max_batch,
            publish_raw=bus.publish_raw,
            metrics=bus.metrics,
        )
        self._finished = asyncio.Event()
        self._running = False

    async def run(self) -> None:
        self._running = True
        try:
            # The dead-letter topics must exist before the first failure needs them.
            await self.bus.create_topics(self.topics)
            options = {**self.bus.client_options(), **self.bus.consumer_options}
            consumer = AIOKafkaConsumer(
                group_id=self.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **options,
            )
            pace_failed_refreshes(consumer._client, options["retry_backoff_ms"])
            consumer.subscribe(list(self.topics), listener=_CommitBeforeRevoke(self))
            await consumer.start()
            log.info("bus.consumer.started", group=self.group, topics=self.topics)
            try:
                await self._consume(consumer)
            finally:
                await asyncio.shield(consumer.stop())  # leaves the group: fast hand-over
                log.info("bus.consumer.stopped", group=self.group)
        finally:
            self._finished.set()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        stopping = self._delivery.stopping
        stop_wait = asyncio.ensure_future(stopping.wait())
        try:
            while not stopping.is_set():
                fetch = asyncio.ensure_future(
                    consumer.getmany(timeout_ms=1000, max_records=self.max_records)
                )
                await asyncio.wait({fetch, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    break
                fetched = fetch.result()
                if not fetched:
                    continue
                fetched = await self._top_up(consumer, fetched)
                async with self.batch_lock:
                    await self._run_partitions(consumer, fetched)
        finally:
            stop_wait.cancel()

    async def _run_partitions(
        self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[Any]]
    ) -> None:
        """Run the fetched partitions concurrently, then commit what they did.

        A partition done while others are still running takes what its buffer holds by
        then (up to `CONTINUE_ROUNDS` times) instead of waiting for the slowest: under
        load, partitions waiting for the last one were a fifth of the inbox's partition
        time. A partition's round is committed before it takes the next, so a crash still
        redelivers at most one fetch's worth per partition; the last rounds are committed
        together in one request.
        """
        running = set(fetched)
        done: dict[TopicPartition, int] = {}

        async def run(tp: TopicPartition, records: list[Any]) -> None:
            try:
                rounds = 0
                while records:
                    done.update(await self._delivery.run_batches({tp: _records(tp, records)}))
                    rounds += 1
                    if (
                        done.get(tp) != records[-1].offset + 1  # stopped part-way
                        or rounds > CONTINUE_ROUNDS
                        or len(running) == 1
                        or self._delivery.stopping.is_set()
                        or self.rebalancing
                    ):
                        return
                    # Committed before taking more, so a crash still redelivers at most one
                    # fetch's worth of this partition.
                    await self._commit(consumer, {tp: done.pop(tp)})
                    # Taken from the buffer only when it will be run: the position moves on.
                    # Bounded all the same: a `getmany` that waits is one meeting a rebalance
                    # (cancelled while waiting, it has taken nothing).
                    try:
                        more = await asyncio.wait_for(
                            consumer.getmany(tp, timeout_ms=0, max_records=self.max_records),
                            CONTINUE_FETCH_SECONDS,
                        )
                    except TimeoutError:
                        return
                    records = more.get(tp, [])
            finally:
                running.discard(tp)

        await asyncio.gather(*(run(tp, records) for tp, records in fetched.items()))
        await self._commit(consumer, done)  # one request for what is left, as before

    async def _top_up(
        self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[Any]]
    ) -> dict[TopicPartition, list[Any]]:
        """Add what the other assigned partitions already have buffered, up to
        `max_records` each, without waiting.

        `getmany` fills its `max_records` from one partition when that one has enough, so
        under load each fetch was a single partition and its batches ran one after another:
        the handler's CPU work and its store round trips never overlapped. Partitions run
        concurrently (see `Delivery.run_batches`), and each still brings at most one fetch's
        worth, so what a crash redelivers per partition stays as it was.
        """
        for tp in consumer.assignment() - fetched.keys():
            more = await consumer.getmany(tp, timeout_ms=0, max_records=self.max_records)
            fetched.update(more)
        return fetched

    async def _commit(self, consumer: AIOKafkaConsumer, done: dict[TopicPartition, int]) -> None:
        if not done:
            return
        try:
            await consumer.commit(done)
        except (CommitFailedError, KafkaError) as exc:
            # The partitions moved on: their new owner starts from the last commit.
            log.warning("bus.commit.failed", group=self.group, error=str(exc))
            return
        for tp, offset in done.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self.bus.metrics.set_lag(self.group, tp.topic, tp.partition, highwater - offset)

    async def stop(self) -> None:
        self._delivery.stopping.set()
        if self._running:
            await self._finished.wait()


def _records(tp: TopicPartition, records: list[Any]) -> list[Record]:
    return [
        Record(tp.topic, tp.partition, r.offset, _message(r.headers, r.key, r.value))
        for r in records
    ]


def _message(
    headers: Sequence[tuple[str, bytes]], key: bytes | None, value: bytes | None
) -> Message:
    return Message(headers=dict(headers), key=key, value=value or b"")

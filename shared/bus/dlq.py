"""Dead letters: read `<topic>.dlq`, replay its messages to `<topic>`, or purge them.

The port has no read-by-offset operation (consumers only run handlers), so this module
reads each adapter's log through the adapter's own client: the SQLite log file or a
group-less Kafka consumer. What an operator has dealt with is remembered as the
committed offsets of one consumer group, `canteen.dlq-admin`, that never runs: dead
letters before its offsets were replayed or purged, those from its offsets on are
pending. Moving it uses the port's `reset_offsets`, so both adapters share that part.

Replaying republishes the original message (headers, key and value as first published,
without the `dlq_*` headers) to the original topic: every group consuming that topic
sees it again, which is safe because handlers are idempotent on the event id.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from shared.bus.namespaced import NamespacedEventBus
from shared.bus.port import DLQ_SUFFIX, EventBus, dlq_topic
from shared.events.codec import Message

if TYPE_CHECKING:
    from shared.bus.kafka import KafkaEventBus
    from shared.bus.sqlite import SqliteEventBus

log = structlog.get_logger(__name__)

ADMIN_GROUP = "canteen.dlq-admin"
PEEK_GROUP = "canteen.dlq-peek"  # never commits: its cursor is the oldest kept offset
DLQ_HEADER_PREFIX = "dlq_"
READ_BATCH = 500
MAX_EMPTY_POLLS = 5


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message of a dead-letter topic (names are the logical ones, without namespace)."""

    topic: str
    partition: int
    offset: int
    message: Message

    def header(self, name: str) -> str | None:
        value = self.message.headers.get(name)
        return value.decode("utf-8", "replace") if value is not None else None

    @property
    def error(self) -> str:
        return self.header("dlq_error") or ""

    @property
    def attempts(self) -> int:
        return int(self.header("dlq_attempts") or 0)

    @property
    def group(self) -> str:
        return self.header("dlq_group") or ""

    @property
    def event_id(self) -> str | None:
        return self.header("ce_id")

    @property
    def event_type(self) -> str | None:
        return self.header("ce_type")

    @property
    def original_topic(self) -> str:
        return self.topic.removesuffix(DLQ_SUFFIX)

    def original(self) -> Message:
        """The message as first published: the `dlq_*` headers removed."""
        headers = {
            k: v for k, v in self.message.headers.items() if not k.startswith(DLQ_HEADER_PREFIX)
        }
        return Message(headers=headers, key=self.message.key, value=self.message.value)


@dataclass(frozen=True, slots=True)
class PartitionState:
    partition: int
    cursor: int  # first pending offset
    head: int  # next offset to be written

    @property
    def pending(self) -> int:
        return max(0, self.head - self.cursor)


class _Reader(ABC):
    """Reads one adapter's log by physical topic name."""

    @abstractmethod
    async def states(self, topic: str, group: str) -> list[PartitionState]: ...

    @abstractmethod
    async def read(
        self, topic: str, starts: dict[int, int], ends: dict[int, int], limit: int | None
    ) -> list[tuple[int, int, Message]]:
        """(partition, offset, message) from each start to its end, partition by partition."""

    async def close(self) -> None:
        return None


class DeadLetters:
    """Dead-letter operations on a started bus (any adapter, namespaced or not)."""

    def __init__(self, bus: EventBus, *, group: str = ADMIN_GROUP) -> None:
        self._namespace = ""
        inner = bus
        if isinstance(bus, NamespacedEventBus):
            self._namespace = bus.namespace + "."
            inner = bus.inner
        self._bus = inner
        self._group = self._namespace + group
        self._reader = _reader_for(inner)

    async def close(self) -> None:
        await self._reader.close()

    def _physical(self, topic: str) -> str:
        return self._namespace + topic

    async def states(self, topic: str) -> list[PartitionState]:
        """Per partition of `<topic>.dlq`: the first pending offset and the head."""
        return await self._reader.states(self._physical(dlq_topic(topic)), self._group)

    async def pending(self, topic: str, *, limit: int | None = None) -> list[DeadLetter]:
        """Pending dead letters of `topic` (its `.dlq`), oldest first within each partition."""
        states = await self.states(topic)
        return await self._read(topic, {s.partition: s.cursor for s in states}, states, limit)

    async def get(self, topic: str, partition: int, offset: int) -> DeadLetter | None:
        """One dead letter by position, pending or already dealt with."""
        states = {s.partition: s for s in await self.states(topic)}
        if partition not in states or not 0 <= offset < states[partition].head:
            return None
        letters = await self._read(
            topic, {partition: offset}, [PartitionState(partition, offset, offset + 1)], 1
        )
        return letters[0] if letters else None

    async def _read(
        self,
        topic: str,
        starts: dict[int, int],
        states: Sequence[PartitionState],
        limit: int | None,
    ) -> list[DeadLetter]:
        ends = {s.partition: s.head for s in states}
        rows = await self._reader.read(self._physical(dlq_topic(topic)), starts, ends, limit)
        return [DeadLetter(dlq_topic(topic), p, o, m) for p, o, m in rows]

    async def peek(self, topic: str, *, limit: int = 100) -> list[tuple[int, int, Message]]:
        """(partition, offset, message) of any topic from its oldest kept offset on.

        For checking what a replay published; it moves no cursor.
        """
        physical = self._physical(topic)
        states = await self._reader.states(physical, self._namespace + PEEK_GROUP)
        ends = {s.partition: s.head for s in states}
        return await self._reader.read(
            physical, {s.partition: s.cursor for s in states}, ends, limit
        )

    async def replay(self, letters: Sequence[DeadLetter]) -> int:
        """Republish each letter's original message to its original topic, in order.

        Then move the cursor past every replayed letter that starts its partition's pending
        run (replaying a letter in the middle republishes it but keeps earlier ones pending).
        """
        by_topic: dict[str, list[DeadLetter]] = {}
        for letter in letters:
            by_topic.setdefault(letter.original_topic, []).append(letter)
        for topic, group in by_topic.items():
            cursors = {s.partition: s.cursor for s in await self.states(topic)}
            for letter in group:
                await self._bus.publish_raw(self._physical(topic), letter.original())
                log.info(
                    "bus.dead_letter.replayed",
                    topic=topic,
                    partition=letter.partition,
                    offset=letter.offset,
                    event_id=letter.event_id,
                )
                if cursors.get(letter.partition) == letter.offset:
                    cursors[letter.partition] = letter.offset + 1
                    await self._move(topic, letter.partition, letter.offset + 1)
        return len(letters)

    async def purge(self, topic: str, *, partition: int | None = None) -> int:
        """Mark every pending dead letter of `topic` as dealt with; returns how many."""
        purged = 0
        for state in await self.states(topic):
            if partition is not None and state.partition != partition:
                continue
            if state.pending:
                await self._move(topic, state.partition, state.head)
                purged += state.pending
        log.info("bus.dead_letters.purged", topic=topic, count=purged, partition=partition)
        return purged

    async def _move(self, topic: str, partition: int, offset: int) -> None:
        await self._bus.reset_offsets(
            group=self._group,
            topic=self._physical(dlq_topic(topic)),
            offset=offset,
            partition=partition,
        )


def _reader_for(bus: EventBus) -> _Reader:
    from shared.bus.sqlite import SqliteEventBus

    if isinstance(bus, SqliteEventBus):
        return _SqliteReader(bus)
    from shared.bus.kafka import KafkaEventBus

    if isinstance(bus, KafkaEventBus):
        return _KafkaReader(bus)
    raise TypeError(f"no dead-letter reader for {type(bus).__name__}")


class _SqliteReader(_Reader):
    def __init__(self, bus: SqliteEventBus) -> None:
        from shared.bus.sqlite_log import SqliteLog

        self._log = SqliteLog(bus.path, partitions=bus.partitions)
        self._lock = asyncio.Lock()  # one connection: one call at a time

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._log.close)

    async def states(self, topic: str, group: str) -> list[PartitionState]:
        def work() -> list[PartitionState]:
            n = self._log.partitions(topic)
            positions = {(topic, p): 0 for p in range(n)}
            _, heads = self._log.fetch(positions, 0)
            # SqliteLog keeps a group's offsets private to its consumers; read the same row.
            return [
                PartitionState(p, self._log._committed(group, (topic, p)), heads[(topic, p)])
                for p in range(n)
            ]

        async with self._lock:
            return await asyncio.to_thread(work)

    async def read(
        self, topic: str, starts: dict[int, int], ends: dict[int, int], limit: int | None
    ) -> list[tuple[int, int, Message]]:
        def work() -> list[tuple[int, int, Message]]:
            out: list[tuple[int, int, Message]] = []
            for partition, start in sorted(starts.items()):
                position = start
                while position < ends[partition] and (limit is None or len(out) < limit):
                    batches, _ = self._log.fetch({(topic, partition): position}, READ_BATCH)
                    records = batches.get((topic, partition), [])
                    if not records:
                        break
                    for r in records:
                        if r.offset >= ends[partition] or (limit is not None and len(out) >= limit):
                            break
                        out.append((partition, r.offset, r.message))
                    position = records[-1].offset + 1
            return out

        async with self._lock:
            return await asyncio.to_thread(work)


class _KafkaReader(_Reader):
    def __init__(self, bus: KafkaEventBus) -> None:
        self._bus = bus

    async def states(self, topic: str, group: str) -> list[PartitionState]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        partitions = await self._bus.producer.partitions_for(topic)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer = AIOKafkaConsumer(
            group_id=group, enable_auto_commit=False, **self._bus.client_options()
        )
        consumer.assign(tps)
        await consumer.start()
        try:
            first = await consumer.beginning_offsets(tps)
            heads = await consumer.end_offsets(tps)
            states = []
            for tp in tps:
                committed = await consumer.committed(tp)
                # Retention may have deleted what the cursor points at: start at the oldest kept.
                cursor = max(committed or 0, first[tp])
                states.append(PartitionState(tp.partition, min(cursor, heads[tp]), heads[tp]))
            return states
        finally:
            await consumer.stop()

    async def read(
        self, topic: str, starts: dict[int, int], ends: dict[int, int], limit: int | None
    ) -> list[tuple[int, int, Message]]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        wanted = {p: s for p, s in starts.items() if s < ends[p]}
        if not wanted:
            return []
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **self._bus.client_options())
        tps = [TopicPartition(topic, p) for p in sorted(wanted)]
        consumer.assign(tps)
        await consumer.start()
        out: list[tuple[int, int, Message]] = []
        try:
            for tp in tps:
                consumer.seek(tp, wanted[tp.partition])
                end = ends[tp.partition]
                done = False
                empty_polls = 0
                while not done and (limit is None or len(out) < limit):
                    fetched = await consumer.getmany(tp, timeout_ms=1000, max_records=READ_BATCH)
                    records = fetched.get(tp, [])
                    if not records:
                        empty_polls += 1
                        # A gap (compaction, control records) never yields the end offset.
                        if await consumer.position(tp) >= end or empty_polls >= MAX_EMPTY_POLLS:
                            break
                        continue
                    for r in records:
                        if r.offset >= end or (limit is not None and len(out) >= limit):
                            done = True
                            break
                        headers = dict(r.headers)
                        out.append(
                            (tp.partition, r.offset, Message(headers, r.key, r.value or b""))
                        )
                    if records and records[-1].offset + 1 >= end:
                        done = True
        finally:
            await consumer.stop()
        return out

"""The SQLite append-only log behind `SqliteEventBus`: synchronous, one connection each.

Offsets per (topic, partition) come from `bus_heads`, read and bumped inside the appending
`BEGIN IMMEDIATE` transaction, so several processes can append to one file. Consumer group
members heartbeat in `bus_members`; a partition belongs to the member holding its lease in
`bus_leases`, and a commit only lands while the committer still holds that lease, so a
member that stalled past its lease cannot overwrite its successor's progress.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import count

import orjson

from shared.bus.delivery import Record
from shared.bus.port import DLQ_SUFFIX, dlq_topic
from shared.events.codec import Message

TopicPartition = tuple[str, int]

SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_topics (
    topic TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bus_heads (
    topic TEXT, partition INTEGER, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_log (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, seq INTEGER NOT NULL,
    key BLOB, headers BLOB NOT NULL, value BLOB NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (topic, partition, seq));
CREATE TABLE IF NOT EXISTS bus_offsets (
    grp TEXT, topic TEXT, partition INTEGER, next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_members (
    grp TEXT, owner TEXT, expires REAL NOT NULL, PRIMARY KEY (grp, owner)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_leases (
    grp TEXT, topic TEXT, partition INTEGER, owner TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (grp, topic, partition)) WITHOUT ROWID;
"""


def partition_for(key: bytes, partitions: int) -> int:
    # crc32, not hash(): Python's str/bytes hash is salted per process.
    return zlib.crc32(key) % partitions


def _pack_headers(headers: dict[str, bytes]) -> bytes:
    # latin-1 maps every byte to one code point, so any header bytes round-trip exactly.
    return orjson.dumps({k: v.decode("latin-1") for k, v in headers.items()})


def _unpack_headers(blob: bytes) -> dict[str, bytes]:
    return {k: v.encode("latin-1") for k, v in orjson.loads(blob).items()}


class SqliteLog:
    def __init__(self, path: str, *, partitions: int) -> None:
        self.default_partitions = partitions
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._partitions: dict[str, int] = {}  # a topic's partition count never changes
        self._round_robin = count()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: no deadlock-prone read->write upgrades.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def create_schema(self) -> None:
        with self._write() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def create_topics(self, topics: Sequence[str]) -> None:
        with self._write():
            for topic in topics:
                self._ensure_topic(topic)
                self._ensure_topic(dlq_topic(topic))

    def _ensure_topic(self, topic: str) -> int:
        """Partition count of `topic`, creating it; call inside a write transaction."""
        if (known := self._partitions.get(topic)) is not None:
            return known
        self._conn.execute(
            "INSERT OR IGNORE INTO bus_topics VALUES (?, ?)", (topic, self.default_partitions)
        )
        self._conn.executemany(
            "INSERT OR IGNORE INTO bus_heads VALUES (?, ?, 0)",
            [(topic, p) for p in range(self.default_partitions)],
        )
        row = self._conn.execute(
            "SELECT partitions FROM bus_topics WHERE topic = ?", (topic,)
        ).fetchone()
        self._partitions[topic] = row[0]
        return int(row[0])

    def partitions(self, topic: str) -> int:
        with self._write():
            return self._ensure_topic(topic)

    def append(self, messages: Sequence[tuple[str, Message]]) -> None:
        now = time.time()
        with self._write() as conn:
            heads: dict[TopicPartition, int] = {}
            rows = []
            for topic, message in messages:
                n = self._ensure_topic(topic)
                key = message.key
                partition = (
                    partition_for(key, n) if key is not None else next(self._round_robin) % n
                )
                tp = (topic, partition)
                offset = heads.get(tp)
                if offset is None:
                    offset = conn.execute(
                        "SELECT next_offset FROM bus_heads WHERE topic = ? AND partition = ?", tp
                    ).fetchone()[0]
                heads[tp] = offset + 1
                rows.append(
                    (
                        topic,
                        partition,
                        offset,
                        key,
                        _pack_headers(message.headers),
                        message.value,
                        now,
                    )
                )
            conn.executemany("INSERT INTO bus_log VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.executemany(
                "UPDATE bus_heads SET next_offset = ? WHERE topic = ? AND partition = ?",
                [(offset, topic, partition) for (topic, partition), offset in heads.items()],
            )

    def fetch(
        self, positions: dict[TopicPartition, int], limit: int
    ) -> tuple[dict[TopicPartition, list[Record]], dict[TopicPartition, int]]:
        """Records from each position on (at most `limit` per partition), and the heads.

        The heads come first, in one query: an idle consumer polls every partition it owns
        many times a second, and only a partition whose head is past its position has rows
        to read. A record appended after the heads were read is simply left for next time.
        """
        if not positions:
            return {}, {}
        topics = sorted({topic for topic, _ in positions})
        marks = ", ".join("?" * len(topics))
        known = {
            (topic, partition): head
            for topic, partition, head in self._conn.execute(
                f"SELECT topic, partition, next_offset FROM bus_heads WHERE topic IN ({marks})",  # noqa: S608
                topics,
            )
        }
        heads = {tp: known.get(tp, 0) for tp in positions}
        batches: dict[TopicPartition, list[Record]] = {}
        for (topic, partition), position in positions.items():
            if heads[(topic, partition)] <= position:
                continue
            rows = self._conn.execute(
                "SELECT seq, key, headers, value FROM bus_log"
                " WHERE topic = ? AND partition = ? AND seq >= ? ORDER BY seq LIMIT ?",
                (topic, partition, position, limit),
            ).fetchall()
            if rows:
                batches[(topic, partition)] = [
                    Record(topic, partition, seq, Message(_unpack_headers(h), key, value))
                    for seq, key, h, value in rows
                ]
        return batches, heads

    def heartbeat(self, group: str, owner: str, ttl: float) -> None:
        expires = time.time() + ttl
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO bus_members VALUES (?, ?, ?)", (group, owner, expires)
            )
            conn.execute(
                "UPDATE bus_leases SET expires = ? WHERE grp = ? AND owner = ?",
                (expires, group, owner),
            )

    def rebalance(
        self, group: str, owner: str, topics: Sequence[str], ttl: float
    ) -> dict[TopicPartition, int]:
        """Take this member's fair share of the partitions; returns them with committed offsets.

        Shares are deterministic (live members sorted by id, the first `total % n` get one
        more), so members converge without talking to each other: one over its share
        releases, one under it claims what is unleased or whose lease expired.
        """
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO bus_members VALUES (?, ?, ?)", (group, owner, now + ttl)
            )
            conn.execute("DELETE FROM bus_members WHERE grp = ? AND expires < ?", (group, now))
            members = [
                r[0]
                for r in conn.execute(
                    "SELECT owner FROM bus_members WHERE grp = ? ORDER BY owner", (group,)
                )
            ]
            wanted = set(topics)
            every = [(t, p) for t in sorted(wanted) for p in range(self._ensure_topic(t))]
            index = members.index(owner)
            quota = len(every) // len(members) + (1 if index < len(every) % len(members) else 0)
            leases = {
                (t, p): (o, exp)
                for t, p, o, exp in conn.execute(
                    "SELECT topic, partition, owner, expires FROM bus_leases WHERE grp = ?",
                    (group,),
                )
                if t in wanted
            }
            live = set(members)
            held = sorted(tp for tp, (o, _) in leases.items() if o == owner)
            mine = held
            for tp in mine[quota:]:
                conn.execute(
                    "DELETE FROM bus_leases WHERE grp = ? AND topic = ? AND partition = ?",
                    (group, *tp),
                )
            mine = mine[:quota]
            free = [
                tp
                for tp in every
                if tp not in held
                and (tp not in leases or leases[tp][1] < now or leases[tp][0] not in live)
            ]
            mine += free[: max(0, quota - len(mine))]
            conn.executemany(
                "INSERT OR REPLACE INTO bus_leases VALUES (?, ?, ?, ?, ?)",
                [(group, t, p, owner, now + ttl) for t, p in mine],
            )
            return {tp: self._committed(group, tp) for tp in mine}

    def _committed(self, group: str, tp: TopicPartition) -> int:
        row = self._conn.execute(
            "SELECT next_offset FROM bus_offsets WHERE grp = ? AND topic = ? AND partition = ?",
            (group, *tp),
        ).fetchone()
        return int(row[0]) if row else 0

    def commit(
        self, group: str, owner: str, offsets: dict[TopicPartition, int]
    ) -> set[TopicPartition]:
        """Store offsets of partitions still leased to `owner`; returns the ones it lost."""
        lost: set[TopicPartition] = set()
        with self._write() as conn:
            for tp, offset in offsets.items():
                row = conn.execute(
                    "SELECT owner FROM bus_leases WHERE grp = ? AND topic = ? AND partition = ?",
                    (group, *tp),
                ).fetchone()
                if row is None or row[0] != owner:
                    lost.add(tp)
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO bus_offsets VALUES (?, ?, ?, ?)", (group, *tp, offset)
                )
        return lost

    def leave(self, group: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM bus_leases WHERE grp = ? AND owner = ?", (group, owner))
            conn.execute("DELETE FROM bus_members WHERE grp = ? AND owner = ?", (group, owner))

    def reset_offsets(self, group: str, topic: str, offset: int, partition: int | None) -> None:
        with self._write() as conn:
            n = self._ensure_topic(topic)
            targets = range(n) if partition is None else [partition]
            conn.executemany(
                "INSERT OR REPLACE INTO bus_offsets VALUES (?, ?, ?, ?)",
                [(group, topic, p, offset) for p in targets],
            )

    def prune(self, cutoff: float, dlq_cutoff: float, chunk: int = 5000) -> int:
        """Delete records appended before `cutoff` (`dlq_cutoff` on dead-letter topics);
        how many. Per partition, seqs grow with time, so what goes is a prefix: found by
        walking the primary key from the oldest record, deleted in chunks of `chunk` rows,
        each its own short transaction (appenders wait for one chunk at most). A consumer
        whose position fell behind reads on from the oldest record kept, as Kafka's
        consumers do after retention."""
        deleted = 0
        for topic, partition in self._conn.execute(
            "SELECT topic, partition FROM bus_heads ORDER BY topic, partition"
        ).fetchall():
            before = dlq_cutoff if topic.endswith(DLQ_SUFFIX) else cutoff
            # One statement, one snapshot: a record appended meanwhile is after `newest`.
            oldest, newest, keep = self._conn.execute(
                "SELECT MIN(seq), MAX(seq), (SELECT seq FROM bus_log WHERE topic = ?1"
                " AND partition = ?2 AND ts >= ?3 ORDER BY seq LIMIT 1) FROM bus_log"
                " WHERE topic = ?1 AND partition = ?2",
                (topic, partition, before),
            ).fetchone()
            if oldest is None:
                continue
            if keep is None:  # nothing young enough: every record seen goes
                keep = newest + 1
            for start in range(oldest, keep, chunk):
                with self._write() as conn:
                    deleted += conn.execute(
                        "DELETE FROM bus_log WHERE topic = ? AND partition = ?"
                        " AND seq >= ? AND seq < ?",
                        (topic, partition, start, min(start + chunk, keep)),
                    ).rowcount
        return deleted

    def ping(self) -> None:
        self._conn.execute("SELECT 1").fetchone()

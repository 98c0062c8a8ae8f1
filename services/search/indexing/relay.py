"""The index relay: dirty projections -> bulk index writes, batched by size and time.

Like the outbox relay: handlers mark projection documents dirty and wake it; it reads a
batch, builds documents (domain/documents.py), writes them with external version = the
projection's `seq`, and clears `dirty` with a compare-and-swap on `seq`. A document the
engine rejects is published to `canteen.search.dlq` and not retried; while the backend is
down nothing is cleared, so indexing converges when it comes back. During a reindex the
relay also writes to the physical index being built.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from services.search.domain.documents import (
    group_document,
    person_document,
    post_document,
    post_family,
)
from services.search.indexes import Indexes
from services.search.indexing.repository import GROUP_FOLDS, PEOPLE, POST_FOLDS, Projections
from shared.search import IndexedDoc, SearchError, SearchIndex, Tombstone

log = structlog.get_logger()

DeadLetter = Callable[[str, str, str, dict[str, Any]], Awaitable[None]]
Write = tuple[str, str, int, IndexedDoc | Tombstone]  # family, collection, seq, write
INDEXED_ORDER = (POST_FOLDS, PEOPLE, GROUP_FOLDS)


async def _no_dead_letter(alias: str, doc_id: str, reason: str, body: dict[str, Any]) -> None:
    return None


class DueProjections:
    """Which projections the relay's next pass reads: those changed since the last pass,
    and every one at least once per `every` seconds (a change whose wake-up was lost, or
    written by another process, is indexed within that). Reading all three for each
    wake-up was most of the search service's store reads under load: a change is one
    projection, and the other reads found nothing."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._names: set[str] = set(INDEXED_ORDER)
        self._all_at = -float("inf")

    def add(self, name: str | None) -> None:
        """Projection `name` changed (None: any may have)."""
        self._names.update(INDEXED_ORDER if name is None else (name,))

    def add_all(self, names: Sequence[str]) -> None:
        self._names.update(names)

    def take(self) -> list[str]:
        """The projections to read now, in indexing order; forgets them."""
        now = self._clock()
        if now - self._all_at >= self._every:
            self._names.update(INDEXED_ORDER)
        names, self._names = self._names, set()
        if names >= set(INDEXED_ORDER):
            self._all_at = now
        return [name for name in INDEXED_ORDER if name in names]


class IndexRelay:
    def __init__(
        self,
        proj: Projections,
        index: SearchIndex,
        indexes: Indexes,
        *,
        batch_size: int = 500,
        linger_seconds: float = 0.02,
        poll_seconds: float = 1.0,
    ) -> None:
        self._proj = proj
        self._index = index
        self._indexes = indexes
        self._batch = batch_size
        self._linger = linger_seconds
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._due = DueProjections(poll_seconds)
        self._flushed_at = 0.0
        self._stopping = False
        self.dead_letter: DeadLetter = _no_dead_letter
        self.last_indexed_event_time: datetime | None = None
        self.oldest_pending_event_time: datetime | None = None
        self.healthy = True
        # Set by the composition root: (re)create the indexes after the backend was down.
        self.ensure: Callable[[], Awaitable[bool]] | None = None
        self._ensured = False

    def notify(self, name: str | None = None) -> None:
        """Wake the relay for projection `name` (None: every one)."""
        self._due.add(name)
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        backoff = self._poll
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            if self._stopping:
                break
            # Linger only right after a flush: an isolated change is written at once, while
            # a burst (changes arriving during a flush) shares one bulk request.
            since = time.monotonic() - self._flushed_at
            if since < self._linger:
                await asyncio.sleep(self._linger - since)
            due = self._due.take()
            try:
                if not self._ensured and self.ensure is not None:
                    self._ensured = await self.ensure()
                    if not self._ensured:
                        raise SearchError("indexes not ensured yet")
                # Again at once only after a full batch: a change made during a flush wakes
                # the loop anyway, so reading until a pass finds nothing was a wasted scan
                # of every projection per wake-up.
                while await self.flush_once(due) >= self._batch and not self._stopping:
                    pass
                backoff, self.healthy = self._poll, True
            except SearchError as exc:
                self._due.add_all(due)
                self.healthy = False
                backoff = min(max(backoff * 2, 0.5), 10.0)
                log.warning("search.relay.backend_unavailable", error=str(exc), retry_in=backoff)
            except Exception:
                self._due.add_all(due)
                backoff = min(max(backoff * 2, 0.5), 10.0)
                log.exception("search.relay.failed", retry_in=backoff)

    async def flush_once(self, names: Sequence[str] = INDEXED_ORDER) -> int:
        """Index one batch of the dirty documents of projections `names`; return how many
        of one projection were read at most (the batch size when one may have more)."""
        # One concurrent round of reads: each is a network round trip on the external store.
        found = await asyncio.gather(*(self._proj.dirty(name, self._batch) for name in names))
        dirty: dict[str, list[dict[str, Any]]] = {name: [] for name in INDEXED_ORDER}
        dirty |= dict(zip(names, found, strict=True))
        times = [d["event_time"] for docs in found for d in docs if d.get("event_time")]
        self.oldest_pending_event_time = min(times) if times else None
        if not any(found):
            return 0
        # Read after the documents, only when there is something to write: most passes (the
        # timer's, a wake-up for a projection another pass emptied) find nothing. A rebuild
        # marks its index before it copies the projections: a change this pass writes to
        # the alias alone, having read no mark, is copied into the new index.
        building = await self._proj.building()
        writes: list[Write] = []
        for name in INDEXED_ORDER:
            writes += await self.build(name, dirty[name])
        rejected: dict[str, str] = {}
        for family in sorted({w[0] for w in writes}):
            ours = [w for w in writes if w[0] == family]
            targets = [self._indexes.alias(family)]
            if family in building:
                targets.append(building[family])
            for target in targets:
                rejected |= await self.write(target, ours)
        for family, _, _, write in writes:
            if write.id in rejected:
                body = dict(write.body) if isinstance(write, IndexedDoc) else {}
                await self.dead_letter(
                    self._indexes.alias(family), write.id, rejected[write.id], body
                )
        await self._proj.clean_many([(name, write.id, seq) for _, name, seq, write in writes])
        self._flushed_at = time.monotonic()
        if times:
            newest = max(times)
            if self.last_indexed_event_time is None or newest > self.last_indexed_event_time:
                self.last_indexed_event_time = newest
        log.debug("search.relay.flushed", documents=len(writes), rejected=len(rejected))
        return max(len(docs) for docs in found)

    async def write(self, target: str, writes: list[Write]) -> dict[str, str]:
        upserts = [w[3] for w in writes if isinstance(w[3], IndexedDoc)]
        deletes = [w[3] for w in writes if isinstance(w[3], Tombstone)]
        rejected: dict[str, str] = {}
        if upserts:
            result = await self._index.upsert(target, upserts)
            rejected |= {r.id: r.reason for r in result.rejected}
        if deletes:
            result = await self._index.delete(target, deletes)
            rejected |= {r.id: r.reason for r in result.rejected}
        for doc_id, reason in rejected.items():
            log.warning("search.document.rejected", index=target, id=doc_id, reason=reason)
        return rejected

    async def build(self, name: str, docs: list[dict[str, Any]]) -> list[Write]:
        """Index writes for projection documents (tombstones for what must not show)."""
        out: list[Write] = []
        if name == POST_FOLDS:
            groups, people = await asyncio.gather(
                self._proj.many(
                    GROUP_FOLDS,
                    [d["post"]["group_id"] for d in docs if (d.get("post") or {}).get("group_id")],
                ),
                self._proj.many(PEOPLE, [d["post"]["author_id"] for d in docs if d.get("post")]),
            )
            for d in docs:
                family = post_family(d)
                if family is None:  # answers seen before their question: nothing to index yet
                    await self._proj.clean(name, d["_id"], d["seq"])
                    continue
                post = d["post"]
                body = post_document(
                    d, groups.get(post.get("group_id") or ""), people.get(post["author_id"])
                )
                out.append(_write(family, name, d, body))
        elif name == PEOPLE:
            out = [_write("people", name, d, person_document(d)) for d in docs]
        else:
            out = [_write("groups", name, d, group_document(d)) for d in docs]
        return out

    def lag_seconds(self) -> float:
        """Age of the oldest change not yet searchable (0 when caught up)."""
        if self.oldest_pending_event_time is None:
            return 0.0
        return max(0.0, time.time() - _aware(self.oldest_pending_event_time).timestamp())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _write(family: str, name: str, doc: dict[str, Any], body: dict[str, Any] | None) -> Write:
    seq = int(doc["seq"])
    if body is None:
        return (family, name, seq, Tombstone(doc["_id"], seq))
    return (family, name, seq, IndexedDoc(doc["_id"], seq, body))

"""The relay: publish what documents carry in their outbox, then clear it.

Crash analysis (the fault-injection test kills the process at each step):
- killed before the document write: no state, no event;
- killed after the write, before publishing: the events are still in the document and the
  next relay run publishes them;
- killed after publishing, before clearing: the next run publishes them again. Consumers
  are idempotent on the event id, so a re-publish has no second effect. The documents
  read at once are published and cleared in windows of at most PER_EVENT_WINDOW events,
  so a re-publish never reaches back further than the event ids a consumer's target
  document keeps (`_applied`, capped at twice that or more);
- the clearing is a compare-and-swap on the outbox version, so events appended by a
  concurrent write while we published are never cleared unpublished;
- an outbox record (`outbox_records`: a document that only carries events, never appended
  to) is deleted instead of cleared; killed before that, it is published again.

Records a writer in this process just inserted can be handed to the relay with their events
(`hand_off`): the relay publishes them from memory and deletes them, without reading them
back (on the test FerretDB that read decoded every pending record in full, and under load
the backlog it read grew with the load). What is handed off is already stored, so a crash,
or a hand-off dropped (the bus down, too many waiting), leaves records the ordinary pass
publishes: the hand-off saves work, it carries no guarantee.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from shared.bus.port import PER_EVENT_WINDOW, EventBus
from shared.events.envelope import Event
from shared.events.registry import EventRegistry
from shared.outbox.records import OUTBOX_FIELD, PENDING_FIELD, RECORD_FIELD, VERSION_FIELD
from shared.store.port import DocumentStore

log = structlog.get_logger()
# Documents cleared at once after a batch is published (bounded: one store, many writers).
_CLEAR_CONCURRENCY = 16
# Documents cleared by one `update_many` (its `$in` stays small enough for any engine).
_CLEAR_BULK = 250
# Events waiting in hand-offs at most; past it, hand-offs are dropped (the pass finds them).
HAND_OFF_CAP = 20_000


class RelayStep(enum.Enum):
    """Points between the relay's steps (hooks for fault-injection tests)."""

    FETCHED = "fetched"
    PUBLISHED = "published"
    CLEARED = "cleared"


StepHook = Callable[[RelayStep, str], None]


def within_window(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The leading documents whose events fit in PER_EVENT_WINDOW (at least one document:
    its events are published and cleared together)."""
    taken, events = 0, 0
    for doc in docs:
        events += len(doc.get(OUTBOX_FIELD) or [])
        if taken and events > PER_EVENT_WINDOW:
            break
        taken += 1
    return docs[:taken]


class OutboxRelay:
    """Publishes pending outbox events of some collections, backing off while the bus is down."""

    def __init__(
        self,
        store: DocumentStore,
        bus: EventBus,
        registry: EventRegistry,
        collections: Sequence[str],
        *,
        poll_interval: float = 0.5,
        batch_size: int = 1000,
        max_backoff: float = 10.0,
        on_step: StepHook | None = None,
        pending: Callable[[], set[str]] | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._registry = registry
        self._collections = list(collections)
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._max_backoff = max_backoff
        self._on_step = on_step
        # Collections this process left events pending in since the last call
        # (`WatchedStore.take_pending`); None: every nudged pass reads every collection.
        self._pending = pending
        self._wake = asyncio.Event()
        self._stopping = False
        # Hand-offs waiting: (collection, records, their events in order); the records' ids.
        self._handed: deque[tuple[str, list[dict[str, Any]], list[Event]]] = deque()
        self._handed_ids: set[Any] = set()
        self._handed_events = 0
        # Collections whose last pass left pending documents (or failed): no hand-offs
        # there until a pass catches up, so their events keep going out oldest first.
        self._behind: set[str] = set(collections)

    async def prepare(self) -> None:
        """Create the index that keeps the pending scan cheap (idempotent).

        `(pending, _id)`: the relay reads the oldest pending documents in `_id` order, so
        with `_id` in the index a batch is a bounded index range, whatever the backlog;
        on `pending` alone every pending document was read and sorted for each batch.
        """
        for name in self._collections:
            await self._store.collection(name).create_index([(PENDING_FIELD, 1), ("_id", 1)])

    def notify(self) -> None:
        """Wake the relay now (a writer in this process just appended events)."""
        self._wake.set()

    def hand_off(self, collection: str, records: list[dict[str, Any]], events: list[Event]) -> None:
        """`records` (from `outbox_records(events, ...)`) were just inserted in `collection`:
        publish them from memory on the next pass. Wakes the relay either way."""
        if (
            collection in self._behind
            or self._stopping
            or self._handed_events + len(events) > HAND_OFF_CAP
        ):
            self._wake.set()
            return
        self._handed.append((collection, records, events))
        self._handed_ids.update(r["_id"] for r in records)
        self._handed_events += len(events)
        self._wake.set()

    async def run(self) -> None:
        """Relay until `stop()`; never raises on bus or store outages, backs off instead.

        A pass after the poll interval (and the first, and after a failure) reads every
        collection; a pass woken by `notify()` reads only those this process wrote events
        to since, and those whose last read was a full batch.
        """
        backoff = self._poll_interval
        names = self._collections
        while not self._stopping:
            # Cleared before the pass, not before the sleep: a notify() arriving while we
            # relay must cut the next sleep short, or its events wait a whole poll.
            self._wake.clear()
            if self._pending is not None:
                self._pending()  # this pass reads them: drop the marks made until now
            try:
                await self._relay_handed()
                _, full = await self._relay_pass(names)
                backoff = self._poll_interval
            except Exception as exc:  # bus or store down: keep the events, retry later
                log.warning("outbox.relay.failed", error=str(exc), retry_in=backoff)
                self._drop_handed()
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                names = self._collections
                continue
            woken = True if full else await self._sleep(self._poll_interval)
            names = self._collections if not woken else self._next_names(full)

    def _next_names(self, full: list[str]) -> list[str]:
        if self._pending is None:
            return self._collections
        wanted = self._pending() | set(full)
        return [name for name in self._collections if name in wanted]

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _sleep(self, seconds: float) -> bool:
        """Wait for a `notify()` or `seconds`; True if woken by a notify."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
            return True
        return False

    async def _relay_handed(self) -> None:
        """Publish and delete the records handed off, oldest first, a window at a time.

        A window's delete overlaps the next window's publish (both mostly wait: for the
        broker's acks, for the store's writer), so at most two windows are published and not
        yet deleted: what a crash here publishes twice. For records of `PER_EVENT_WINDOW`
        events, that is what consumers' kept ids cover (see there).
        """
        clearing: asyncio.Task[None] | None = None
        try:
            while self._handed:
                name, records, events = self._handed[0]
                window = within_window(records)
                size = sum(len(r.get(OUTBOX_FIELD) or []) for r in window)
                await self._publish(window, events[:size])
                self._handed[0] = (name, records[len(window) :], events[size:])
                if not self._handed[0][1]:
                    self._handed.popleft()
                self._handed_events -= size
                if clearing is not None:
                    await clearing
                clearing = asyncio.create_task(self._clear_handed(name, window))
            if clearing is not None:
                await clearing
        finally:
            # A failed publish leaves the window before it published: let its delete
            # finish, or the pass publishes that window again.
            if clearing is not None and not clearing.done():
                with contextlib.suppress(Exception):
                    await clearing

    async def _clear_handed(self, name: str, records: list[dict[str, Any]]) -> None:
        await self._clear_documents(name, records)
        self._handed_ids.difference_update(r["_id"] for r in records)

    def _drop_handed(self) -> None:
        """Forget the hand-offs (they stay stored, pending): the next passes publish them."""
        self._behind.update(name for name, _, _ in self._handed)
        self._handed.clear()
        self._handed_ids.clear()
        self._handed_events = 0

    async def relay_once(self) -> int:
        """Publish one batch from each collection; returns how many events were published."""
        published, _ = await self._relay_pass(self._collections)
        return published

    async def _relay_pass(self, names: Sequence[str]) -> tuple[int, list[str]]:
        """(events published, the collections that may have more pending at once)."""
        total, full = 0, []
        for name in names:
            collection = self._store.collection(name)
            found = await collection.find(
                {PENDING_FIELD: True}, sort=[("_id", 1)], limit=self._batch_size
            )
            if len(found) == self._batch_size:
                full.append(name)
                self._behind.add(name)
            else:
                self._behind.discard(name)
            # Handed off meanwhile (inserted after the last hand-offs were relayed): the
            # next pass relays them from memory.
            found = [d for d in found if d["_id"] not in self._handed_ids]
            # One read for many documents (FerretDB 1.24 pushes neither sort nor limit
            # down, so a read costs every pending document); one publish per window.
            while found:
                docs = within_window(found)
                found = found[len(docs) :]
                total += await self._relay_documents(name, docs)
        return total, full

    async def _relay_documents(self, collection_name: str, docs: list[dict[str, Any]]) -> int:
        events = [Event.from_record(r) for doc in docs for r in doc.get(OUTBOX_FIELD) or []]
        await self._publish(docs, events)
        await self._clear_documents(collection_name, docs)
        return len(events)

    async def _publish(self, docs: list[dict[str, Any]], events: list[Event]) -> None:
        """Publish `docs`' `events`: one publish for them all (a broker round trip per
        document was the relay's cost under write load), in document order, so per-key
        order is kept."""
        for doc in docs:
            self._step(RelayStep.FETCHED, doc["_id"])
        if events:
            await self._bus.publish_batch(
                [(self._registry.model_for(e.type).topic, e) for e in events]
            )
        for doc in docs:
            self._step(RelayStep.PUBLISHED, doc["_id"])
        for e in events:
            log.debug("outbox.event.relayed", event_id=e.id, event_type=e.type)

    async def _clear_documents(self, collection_name: str, docs: list[dict[str, Any]]) -> None:
        """After their events are published: delete records, clear documents' outboxes."""
        collection = self._store.collection(collection_name)
        records = [d for d in docs if d.get(RECORD_FIELD)]
        if records:
            await collection.delete_many({"_id": {"$in": [d["_id"] for d in records]}})
            for doc in records:
                self._step(RelayStep.CLEARED, doc["_id"])
            docs = [d for d in docs if not d.get(RECORD_FIELD)]
        missed = await self._clear_unchanged(collection, docs)
        for start in range(0, len(missed), _CLEAR_CONCURRENCY):
            await asyncio.gather(
                *(self._clear(collection, d) for d in missed[start : start + _CLEAR_CONCURRENCY])
            )

    async def _clear_unchanged(
        self, collection: Any, docs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Clear, with one update per version value, every document whose outbox did not
        change since it was read (every event it held is published); return the documents
        of a group where some changed, for the one-by-one compare-and-swap.

        One `update_many` instead of an update per document: half the engine's work per
        cleared document on the test FerretDB, one round trip instead of many on MongoDB.
        Clearing a document twice is harmless (same version, nothing left to keep), so a
        group that partly missed is simply redone document by document.
        """
        groups: dict[Any, list[dict[str, Any]]] = {}
        for doc in docs:
            groups.setdefault(doc.get(VERSION_FIELD), []).append(doc)
        missed: list[dict[str, Any]] = []
        for version, same in groups.items():
            for start in range(0, len(same), _CLEAR_BULK):
                group = same[start : start + _CLEAR_BULK]
                result = await collection.update_many(
                    {"_id": {"$in": [d["_id"] for d in group]}, VERSION_FIELD: version},
                    {"$set": {OUTBOX_FIELD: [], PENDING_FIELD: False}},
                )
                if result.matched_count == len(group):
                    for doc in group:
                        self._step(RelayStep.CLEARED, doc["_id"])
                else:
                    missed.extend(group)
        return missed

    async def _clear(self, collection: Any, doc: dict[str, Any]) -> None:
        doc_id = doc["_id"]
        published = {r["id"] for r in doc.get(OUTBOX_FIELD) or []}
        # Compare-and-swap on the version: if a writer appended events while we published,
        # the swap misses; re-read and keep exactly the events we did not publish.
        while True:
            result = await collection.update_one(
                {"_id": doc_id, VERSION_FIELD: doc.get(VERSION_FIELD)},
                self._remaining_update(doc, published),
            )
            if result.matched_count:
                break
            fresh = await collection.find_one({"_id": doc_id})
            if fresh is None:
                break
            doc = fresh
        self._step(RelayStep.CLEARED, doc_id)

    @staticmethod
    def _remaining_update(doc: dict[str, Any], published: set[str]) -> dict[str, Any]:
        remaining = [r for r in doc.get(OUTBOX_FIELD) or [] if r["id"] not in published]
        return {"$set": {OUTBOX_FIELD: remaining, PENDING_FIELD: bool(remaining)}}

    def _step(self, step: RelayStep, doc_id: str) -> None:
        if self._on_step is not None:
            self._on_step(step, doc_id)

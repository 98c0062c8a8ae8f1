"""Each replica's broker: tails the shared `notifications` collection for its own clients.

All replicas share the store, so every replica sees every notification without any extra
bus traffic; it polls only for users connected to it (one `$in` query per tick) and also
reads their unread counters, so a read on another device or replica updates the badge.
The tick re-reads a short overlap window (clock skew between writers, writes stamped
before they land) and each subscriber drops sequence numbers it already sent.

Notifications this replica writes itself do not wait for a tick: the inbox hands them to
`publish` right after the insert, which offers them to the connected clients at once and
refreshes only those clients' badges (one counter read by id). So polling is only for other
replicas' writes and other devices' reads; it is adaptive: every `poll_seconds` while ticks
find something new, backing off to `max_poll_seconds` when they do not (a tick is a query
over the whole `notifications` collection on engines that cannot push the filter down).

Event ids are seqs and a reconnect resumes after its Last-Event-ID, so a client must get
them in increasing order: were seq 3 (written here) sent before seq 2 (written by another
replica, seen on the next tick), a reconnect after 3 would never get 2. So a subscriber
holds a notification back while an earlier seq is missing, until the missing one arrives
or `hold_seconds` pass. A seq can be missing for good (a notification not shown in the app
still takes one; a crash between claiming a seq and writing the notification leaves a
gap), so the hold is bounded; ticks read hidden notifications too, only to close gaps.
One that lands after its gap was passed over is still sent, as a `late` event without an
SSE id: the client's Last-Event-ID stays where it was, so resuming neither skips nor
repeats anything (the subscriber remembers the last PASSED_KEPT seqs it passed over).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from services.notify.inbox.repository import InboxRepository, shown

log = structlog.get_logger()
QUEUE_MAX = 1000
HOLD_SECONDS = 2.0
# Seqs a stream passed over that may still land (most never will: a crash's gap).
PASSED_KEPT = 256


@dataclass(eq=False)
class Subscriber:
    """One open stream. `floor`: every seq up to it was sent (or passed over for good)."""

    user_id: str
    floor: int
    hold_seconds: float = HOLD_SECONDS
    queue: asyncio.Queue[tuple[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    # seq -> (monotonic time it arrived, the notification or None if not shown)
    held: dict[int, tuple[float, dict[str, Any] | None]] = field(default_factory=dict)
    unread: int | None = None
    overflowed: bool = False
    # Seqs passed over after the hold (oldest first): one landing later is sent as `late`.
    passed: dict[int, None] = field(default_factory=dict)

    def offer(self, doc: dict[str, Any], now: float | None = None) -> bool:
        """Take `doc` unless its seq was sent already; whether it was new."""
        seq = int(doc["seq"])
        if seq in self.passed:
            del self.passed[seq]
            if shown(doc):
                self._put(("late", doc))
            return True
        if seq <= self.floor or seq in self.held:
            return False
        self.held[seq] = (time.monotonic() if now is None else now, doc if shown(doc) else None)
        self.release(now)
        return True

    def release(self, now: float | None = None) -> None:
        """Send held notifications in seq order: the next one, or any held past the hold."""
        now = time.monotonic() if now is None else now
        while self.held:
            seq = min(self.held)
            arrived, doc = self.held[seq]
            if seq != self.floor + 1 and now - arrived < self.hold_seconds:
                return  # an earlier seq may still land
            del self.held[seq]
            self.passed.update(dict.fromkeys(range(max(self.floor + 1, seq - PASSED_KEPT), seq)))
            for old in list(self.passed)[: max(0, len(self.passed) - PASSED_KEPT)]:
                del self.passed[old]
            self.floor = seq
            if doc is not None:
                self._put(("notification", doc))

    @property
    def waiting_until(self) -> float | None:
        """When the oldest held notification is sent even if the gap before it stays."""
        if not self.held:
            return None
        return min(arrived for arrived, _ in self.held.values()) + self.hold_seconds

    def offer_unread(self, unread: int) -> None:
        if unread != self.unread:
            self.unread = unread
            self._put(("unread", unread))

    def _put(self, item: tuple[str, Any]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A client this far behind reconnects and resumes from its Last-Event-ID.
            self.overflowed = True


class Broker:
    def __init__(
        self,
        repo: InboxRepository,
        *,
        poll_seconds: float,
        max_poll_seconds: float | None = None,
        overlap_seconds: float = 5.0,
    ) -> None:
        self._repo = repo
        self._poll = poll_seconds
        self._max_poll = max(poll_seconds, max_poll_seconds or poll_seconds * 5)
        self._interval = poll_seconds
        self._overlap = timedelta(seconds=overlap_seconds)
        self._subs: dict[str, set[Subscriber]] = {}
        self._wake = asyncio.Event()
        # Users whose badge a local write changed; their counters are read on the next turn.
        self._dirty: set[str] = set()
        self._since: datetime | None = None

    def subscribe(self, sub: Subscriber) -> None:
        self._subs.setdefault(sub.user_id, set()).add(sub)
        self._wake.set()

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._subs.get(sub.user_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.user_id]

    def wake(self) -> None:
        """Tick now (a full tick: for changes this replica did not write itself)."""
        self._interval = self._poll
        self._wake.set()

    def publish(self, docs: list[dict[str, Any]]) -> None:
        """Notifications this replica just wrote: to their connected recipients at once."""
        for doc in docs:
            subs = self._subs.get(doc["recipient_id"])
            if not subs:
                continue
            for sub in list(subs):
                sub.offer(doc)
            if shown(doc):
                self._dirty.add(doc["recipient_id"])
        if self._dirty:
            self._wake.set()

    def connections_of(self, user_id: str) -> int:
        return len(self._subs.get(user_id, ()))

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._subs.values())

    def _next_turn(self) -> float:
        """Seconds until the next tick: the poll interval, sooner if a hold runs out."""
        holds = [
            until
            for subs in self._subs.values()
            for sub in subs
            if (until := sub.waiting_until) is not None
        ]
        if not holds:
            return self._interval
        return max(0.0, min(self._interval, min(holds) - time.monotonic()))

    async def run(self) -> None:
        """Tick until cancelled; a failing tick is logged and retried on the next one."""
        while True:
            woken = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._next_turn())
                woken = True
            self._wake.clear()
            try:
                if woken and self._dirty:
                    await self.refresh_unread()
                else:
                    found = await self.tick()
                    self._interval = (
                        self._poll if found else min(self._max_poll, self._interval * 2)
                    )
            except Exception:
                log.warning("notify.stream.tick_failed", exc_info=True)
                await asyncio.sleep(self._poll)

    async def refresh_unread(self) -> None:
        """Badges of the users a local write touched (their notifications went out already)."""
        users = sorted(u for u in self._dirty if u in self._subs)
        self._dirty.clear()
        if not users:
            return
        counts = await self._repo.counters_of(users)
        for user in users:
            for sub in list(self._subs.get(user, ())):
                sub.offer_unread(counts.get(user, 0))

    async def tick(self) -> bool:
        """Read connected users' recent notifications and badges; whether any was new
        (or is still held back, so the next tick comes soon)."""
        users = sorted(self._subs)
        self._dirty.clear()
        if not users:
            self._since = None
            return False
        started = datetime.now(UTC)
        since = (self._since or started) - self._overlap
        docs = await self._repo.recent_for(users, since)
        counts = await self._repo.counters_of(users)
        self._since = started
        found = False
        for doc in docs:
            for sub in list(self._subs.get(doc["recipient_id"], ())):
                found = (sub.offer(doc) and shown(doc)) or found
        for user in users:
            for sub in list(self._subs.get(user, ())):
                sub.release()
                found = bool(sub.held) or sub.unread != counts.get(user, 0) or found
                sub.offer_unread(counts.get(user, 0))
        return found

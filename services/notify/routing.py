"""Routing new notifications to a delivery channel (email, push), one batch at a time.

The inbox decides each channel when it creates a notification (`channels.<channel>`), and
a notification that may go out through a channel now (email `now` to a known address; push
`now` or `later`) also gets an entry in that channel's routing queue (`email_routing`,
`push_routing`: the notification id and recipient, nothing else). The channel's worker
takes entries a batch at a time, decides again with the preferences of the moment, queues
what goes out (in the email outbox or the push queue, whose ids make a repeat a no-op) and
deletes the entries.

Why a queue of its own rather than a bookmark in the notification: the notifications
collection is the busiest and its documents are the largest, with six indexes. Moving a
bookmark there rewrote every notification once per channel; on the test FerretDB that was
half of the notify service's database work (0.22 of 0.46 ms per event). An entry is a
small insert and a delete.

The notification is rewritten only where another feature reads the outcome: an email the
worker sends to the digest instead (`channels.email: digest`, what the digest looks for).
Otherwise `channels` keeps the decision taken at creation; what went out is in the outbox.

The workers that poll for new work wait an `IdlePause` between rounds that find nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

import structlog

from services.notify.preferences.domain import address_of
from services.notify.preferences.repository import PreferenceRepository
from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection, DocumentStore
from shared.store.writes import insert_new

log = structlog.get_logger()

Decide = Callable[
    [dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, datetime | None],
    Awaitable[str],
]

QUEUES = {"email": "email_routing", "push": "push_routing"}
# Channel states at creation that a worker still has to route.
ROUTED_AT_CREATION = {"email": {"now"}, "push": {"now", "later"}}
# Outcomes another feature reads from the notification (the digest), so written back.
WRITTEN_BACK = {"email": {"digest"}, "push": set()}
# States of notifications written before the routing queues (their top-level flag).
LEGACY_UNSEEN: dict[str, list[str | None]] = {
    "email": [None, "pending", "now"],
    "push": [None, "pending", "now", "later"],
}
MIGRATIONS = "notify_migrations"


def initial_email(state: str, prefs: dict[str, Any] | None) -> str:
    """The email state a new notification is written with: an immediate email to someone
    without an address is final at once (nothing for the worker to do)."""
    if state == "now" and not address_of(prefs):
        return "no_address"
    return state


def needs_routing(doc: dict[str, Any], channel: str) -> bool:
    return (doc.get("channels") or {}).get(channel) in ROUTED_AT_CREATION[channel]


class RoutingQueue:
    """One channel's queue of notifications to route: entries keyed by notification id."""

    def __init__(self, store: DocumentStore, channel: str) -> None:
        self.channel = channel
        self._entries = store.collection(QUEUES[channel])

    async def add(self, notifications: Iterable[dict[str, Any]]) -> None:
        """Queue the ones that need this channel (a repeat, from a redelivery, is skipped)."""
        await self.insert(
            {"_id": n["_id"], "recipient_id": n["recipient_id"]}
            for n in notifications
            if needs_routing(n, self.channel)
        )

    async def insert(self, new: Iterable[dict[str, Any]]) -> None:
        await insert_new(self._entries, list(new))

    async def take(self, limit: int) -> list[dict[str, Any]]:
        # No sort: the test FerretDB cannot sort from an index, and order does not matter
        # for correctness (every round deletes what it took).
        return await self._entries.find({}, limit=limit)

    async def done(self, ids: list[str]) -> None:
        await self._entries.delete_many({"_id": {"$in": ids}})

    async def pending(self) -> int:
        return await self._entries.count({})


async def migrate_flags(store: DocumentStore, channel: str) -> None:
    """Queue the notifications an earlier version left flagged `unrouted_<channel>`.

    Once per store (a marker in `notify_migrations`): the flag has no index any more, so
    looking for it is a scan of the notifications."""
    marker = f"routing-queue:{channel}"
    migrations = store.collection(MIGRATIONS)
    if await migrations.find_one({"_id": marker}):
        return
    notifications = store.collection("notifications")
    flag = f"unrouted_{channel}"
    old = await notifications.find(
        {
            "$or": [
                {flag: True},
                {f"channels.{channel}": {"$in": LEGACY_UNSEEN[channel]}, flag: {"$exists": False}},
            ]
        }
    )
    queue = RoutingQueue(store, channel)
    await queue.insert(
        {"_id": n["_id"], "recipient_id": n["recipient_id"]} for n in old if "recipient_id" in n
    )
    if old:
        await notifications.update_many({flag: {"$exists": True}}, {"$unset": {flag: ""}})
    with contextlib.suppress(DuplicateKeyError):  # another replica finished it too
        await migrations.insert_one({"_id": marker, "queued": len(old)})
    log.info("notify.routing.migrated", channel=channel, queued=len(old))


async def route_batch(
    queue: RoutingQueue,
    notifications: Collection,
    prefs: PreferenceRepository,
    *,
    decide: Decide,
    limit: int,
    now: datetime | None,
) -> int:
    """Route up to `limit` queued notifications; how many entries were taken.

    `decide` queues what goes out (idempotently: two replicas taking the same entry, or a
    round repeated after a crash before `done`, queue it once) and says the outcome."""
    channel = queue.channel
    entries = await queue.take(limit)
    if not entries:
        return 0
    ids = [e["_id"] for e in entries]
    docs = await notifications.find({"_id": {"$in": ids}})
    missing = len(ids) - len(docs)
    if missing:
        log.warning("notify.routing.missing_notifications", channel=channel, count=missing)
    people = await prefs.many(sorted({d["recipient_id"] for d in docs}))
    org = await prefs.org()
    back: dict[str, list[str]] = {}
    for doc in docs:
        if doc.get("hidden"):  # its post or item was deleted since: nothing goes out
            continue
        state = await decide(doc, people.get(doc["recipient_id"]), org, now)
        if state in WRITTEN_BACK[channel]:
            back.setdefault(state, []).append(doc["_id"])
    for state, nids in back.items():
        await notifications.update_many(
            {"_id": {"$in": nids}}, {"$set": {f"channels.{channel}": state}}
        )
    await queue.done(ids)
    return len(entries)


class IdlePause:
    """How long a polling worker sleeps after a round: not at all while more work is
    waiting, `first` after a round that found some, then doubling with each empty round up
    to `longest` (so an idle worker costs a small query every 2 s, and an email or push
    after a quiet spell waits at most 2 s more)."""

    def __init__(self, first: float = 0.25, longest: float = 2.0) -> None:
        self._first = first
        self._longest = longest
        self._next = first

    def after(self, *, found: bool, more: bool = False) -> float:
        if found:
            self._next = self._first
        if more:
            return 0.0
        pause = self._next
        self._next = min(self._longest, self._next * 2)
        return pause

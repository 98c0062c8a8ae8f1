"""Routing new notifications to a delivery channel (email, push), one batch at a time.

Both channels bookmark their progress in the notification itself (`channels.<channel>`):
one preferences read for the batch, then one write per resulting state rather than per
notification, because the notifications collection is the busiest one.

What a channel has not handled yet is also flagged at the top level (`unrouted_<channel>:
true`), and the intake finds its work by that flag: a boolean equality the test FerretDB
serves from an index, where `channels.<channel> in [None, ...]` (a dotted path with null)
read the whole collection several times a second.

The workers that poll for new work wait an `IdlePause` between rounds that find nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from services.notify.preferences.repository import PreferenceRepository
from shared.store.port import Collection

Decide = Callable[
    [dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, datetime | None],
    Awaitable[str],
]


EMAIL_UNSEEN: list[str | None] = [None, "pending", "now"]
PUSH_UNSEEN: list[str | None] = [None, "pending", "now", "later"]
UNSEEN = {"email": EMAIL_UNSEEN, "push": PUSH_UNSEEN}


def unrouted_field(channel: str) -> str:
    return f"unrouted_{channel}"


def unrouted_flags(channels: dict[str, Any]) -> dict[str, bool]:
    """The top-level flags of a new notification whose channel states are `channels`."""
    return {unrouted_field(c): channels.get(c) in unseen for c, unseen in UNSEEN.items()}


async def prepare_routing(notifications: Collection, channel: str) -> None:
    """The flag's index; flag notifications written before the flag existed."""
    flag = unrouted_field(channel)
    await notifications.create_index([(flag, 1), ("created_at", 1), ("_id", 1)])
    await notifications.update_many(
        {f"channels.{channel}": {"$in": UNSEEN[channel]}, flag: {"$exists": False}},
        {"$set": {flag: True}},
    )


async def route_batch(
    notifications: Collection,
    prefs: PreferenceRepository,
    *,
    channel: str,
    decide: Decide,
    limit: int,
    now: datetime | None,
) -> int:
    """Route `limit` notifications not yet seen by `channel`; how many there were.

    No sort: on MongoDB the flag's index (flag, created_at, _id) gives the oldest first
    anyway, and the order is not needed for correctness: each round clears the flag of
    what it took, so every notification is routed in a round or two under any backlog.
    The test FerretDB cannot sort from an index: with a sort, each round ordered the
    whole backlog (124 ms at 10,000 unrouted notifications, against 3 ms without), and
    the email and push intakes took more of its CPU than the inbox consumer they follow.
    """
    field, flag, unseen = f"channels.{channel}", unrouted_field(channel), UNSEEN[channel]
    docs = await notifications.find({flag: True}, limit=limit)
    if not docs:
        return 0
    people = await prefs.many([d["recipient_id"] for d in docs])
    org = await prefs.org()
    moved: dict[str, list[str]] = {}
    for doc in docs:
        state = await decide(doc, people.get(doc["recipient_id"]), org, now)
        moved.setdefault(state, []).append(doc["_id"])
    for state, ids in moved.items():
        await notifications.update_many(
            {"_id": {"$in": ids}, field: {"$in": list(unseen)}},
            {"$set": {field: state, flag: state in unseen}},
        )
    return len(docs)


class IdlePause:
    """How long a polling worker sleeps after a round: not at all while more work is
    waiting, `first` after a round that found some, then doubling with each empty round up
    to `longest`.

    An intake round is a query over the notifications collection; on an engine that cannot
    serve it from an index (the test FerretDB: a dotted path with null) an idle worker at a
    fixed 250 ms would scan the collection four times a second. Backing off to 2 s bounds
    the extra wait of an email or push after a quiet spell to 2 s.
    """

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

"""Routing new notifications to a delivery channel (email, push), one batch at a time.

Both channels bookmark their progress in the notification itself (`channels.<channel>`):
one preferences read for the batch, then one write per resulting state rather than per
notification, because the notifications collection is the busiest one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from services.notify.preferences.repository import PreferenceRepository
from shared.store.port import Collection

Decide = Callable[
    [dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, datetime | None],
    Awaitable[str],
]


async def route_batch(
    notifications: Collection,
    prefs: PreferenceRepository,
    *,
    channel: str,
    unseen: Sequence[str | None],
    decide: Decide,
    limit: int,
    now: datetime | None,
) -> int:
    """Route the oldest `limit` notifications not yet seen by `channel`; how many there were."""
    field = f"channels.{channel}"
    docs = await notifications.find(
        {field: {"$in": list(unseen)}}, sort=[("created_at", 1), ("_id", 1)], limit=limit
    )
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
            {"_id": {"$in": ids}, field: {"$in": list(unseen)}}, {"$set": {field: state}}
        )
    return len(docs)

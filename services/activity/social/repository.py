"""Follows and follow counts through the DocumentStore port.

A follow document exists with its fields while the follow holds. Unfollowing turns it into a
tombstone in the same write that carries `follow.removed`: the fields readers query on
(`follower_id`, `target_type`, `target_id`, `created_at`) are unset, `removed_at` is set, so
no reader of the documented shape ever matches it; the social consumer deletes it once its
outbox is relayed (a TTL on `removed_at` is the backstop). Following again revives it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.events.envelope import Event
from shared.outbox import PENDING_FIELD, insert_with_events, update_with_events
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

FOLLOWS = "follows"
FOLLOW_STATS = "follow_stats"
LIST_SORT = [("created_at", -1), ("_id", -1)]
APPLIED_CAP = 200
TOMBSTONE_TTL_SECONDS = 30 * 24 * 3600
_FIELDS = ("follower_id", "target_type", "target_id", "created_at")


class FollowRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._follows = store.collection(FOLLOWS)
        self._stats = store.collection(FOLLOW_STATS)

    async def prepare(self) -> None:
        await self._follows.create_index([("follower_id", 1), ("created_at", -1), ("_id", -1)])
        await self._follows.create_index(
            [("target_type", 1), ("target_id", 1), ("created_at", -1), ("_id", -1)]
        )
        await self._follows.create_index(
            [("removed_at", 1)], expire_after_seconds=TOMBSTONE_TTL_SECONDS
        )

    async def add(self, doc: dict[str, Any], event: Event) -> bool:
        """Store a follow; False when it already held (nothing written)."""
        try:
            await self._follows.insert_one(insert_with_events(doc, [event]))
            return True
        except DuplicateKeyError:
            pass
        fields = {k: doc[k] for k in _FIELDS}
        revived = await self._follows.update_one(
            {"_id": doc["_id"], "follower_id": {"$exists": False}},
            update_with_events({"$set": fields, "$unset": {"removed_at": ""}}, [event]),
        )
        return revived.matched_count == 1

    async def remove(self, follow_id: str, event: Event, *, now: datetime) -> bool:
        """Tombstone a follow with its event; False when there was none."""
        result = await self._follows.update_one(
            {"_id": follow_id, "follower_id": {"$exists": True}},
            update_with_events(
                {"$unset": dict.fromkeys(_FIELDS, ""), "$set": {"removed_at": now}}, [event]
            ),
        )
        return result.matched_count == 1

    async def get(self, follow_id: str) -> dict[str, Any] | None:
        doc = await self._follows.find_one({"_id": follow_id, "follower_id": {"$exists": True}})
        return strip_outbox(doc) if doc else None

    async def purge_tombstone(self, follow_id: str) -> None:
        await self._follows.delete_one(
            {"_id": follow_id, "follower_id": {"$exists": False}, PENDING_FIELD: False}
        )

    async def page(
        self, filter: dict[str, Any], *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        docs = await self._follows.find(filter, sort=LIST_SORT, limit=limit, after=after)
        return [strip_outbox(d) for d in docs]

    async def stats(self, stats_id: str) -> dict[str, int]:
        doc = await self._stats.find_one({"_id": stats_id})
        return {k: int((doc or {}).get(k, 0)) for k in ("followers", "following")}

    async def apply_delta(self, stats_id: str, counter: str, delta: int, event_id: str) -> bool:
        """Add `delta` to one counter unless this event was applied; one atomic update."""
        other = "followers" if counter == "following" else "following"
        update = {
            "$inc": {counter: delta},
            "$push": {"_applied": {"$each": [event_id], "$slice": -APPLIED_CAP}},
        }
        unapplied = {"_id": stats_id, "_applied": {"$ne": event_id}}
        try:
            result = await self._stats.update_one(
                unapplied, {**update, "$setOnInsert": {other: 0}}, upsert=True
            )
            return result.matched_count == 1 or result.upserted_id is not None
        except DuplicateKeyError:
            # The document exists and already lists the event, or a twin upsert won: retry.
            result = await self._stats.update_one(unapplied, update)
            return result.matched_count == 1

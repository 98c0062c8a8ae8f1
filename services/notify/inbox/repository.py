"""Notifications, aggregation groups and per-user counters through the DocumentStore port.

Counters and groups are kept as notifications are created and read, never counted on read.
Creating one is three single-document writes: the recipient's counter (counts it and hands
out its `seq`), the notification, its group. Counter and group updates are idempotent on the
notification id (`_applied`, capped), so a redelivered event finishes the job without double
counting, whichever step a crash interrupted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.events.envelope import Event
from shared.outbox import insert_with_events
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection, DocumentStore

NOTIFICATIONS = "notifications"
GROUPS = "notification_groups"
COUNTERS = "unread_counters"
APPLIED_CAP = 64
GROUP_SORT = [("latest_at", -1), ("_id", -1)]
VISIBLE = {"hidden": False, "in_app": True}


def clean(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in strip_outbox(doc).items() if k != "_applied"}


async def apply_once(
    coll: Collection,
    doc_id: str,
    applied_id: str,
    update: dict[str, Any],
    on_insert: dict[str, Any] | None = None,
) -> bool:
    """Apply `update` to `doc_id` unless `applied_id` was applied already (upsert)."""
    unapplied = {"_id": doc_id, "_applied": {"$ne": applied_id}}
    full = {
        **update,
        "$push": {
            **update.get("$push", {}),
            "_applied": {"$each": [applied_id], "$slice": -APPLIED_CAP},
        },
    }
    try:
        result = await coll.update_one(
            unapplied, {**full, "$setOnInsert": on_insert} if on_insert else full, upsert=True
        )
        return result.matched_count == 1 or result.upserted_id is not None
    except DuplicateKeyError:
        result = await coll.update_one(unapplied, full)
        return result.matched_count == 1


class InboxRepository:
    def __init__(self, store: DocumentStore) -> None:
        self.notifications = store.collection(NOTIFICATIONS)
        self.groups = store.collection(GROUPS)
        self.counters = store.collection(COUNTERS)

    async def prepare(self) -> None:
        n = self.notifications
        await n.create_index([("recipient_id", 1), ("seq", 1)])
        await n.create_index([("recipient_id", 1), ("created_at", -1)])
        await n.create_index([("created_at", -1)])
        await n.create_index([("group_id", 1), ("seq", -1)])
        await n.create_index([("post_id", 1)])
        await n.create_index([("item_id", 1)])
        await self.groups.create_index([("recipient_id", 1), ("latest_at", -1), ("_id", -1)])

    # creation -------------------------------------------------------------------------

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        doc = await self.notifications.find_one({"_id": notification_id})
        return clean(doc) if doc else None

    async def reserve_seq(self, user_id: str) -> int:
        doc = await self.counters.find_one_and_update(
            {"_id": user_id}, {"$inc": {"seq": 1}}, upsert=True, return_new=True
        )
        assert doc is not None
        return int(doc["seq"])

    async def insert(self, doc: dict[str, Any], events: list[Event]) -> bool:
        try:
            await self.notifications.insert_one(insert_with_events(doc, events))
            return True
        except DuplicateKeyError:
            return False

    async def claim(self, user_id: str, nid: str, *, visible: bool) -> int | None:
        """Count notification `nid` in its recipient's counters and give it the next `seq`,
        in one write; None when `nid` was counted already (a redelivered event)."""
        inc = {"seq": 1, "unread": 1, "unseen": 1} if visible else {"seq": 1}
        update = {"$inc": inc, "$push": {"_applied": {"$each": [nid], "$slice": -APPLIED_CAP}}}
        unapplied = {"_id": user_id, "_applied": {"$ne": nid}}
        try:
            doc = await self.counters.find_one_and_update(
                unapplied, update, upsert=True, return_new=True
            )
        except DuplicateKeyError:
            doc = await self.counters.find_one_and_update(unapplied, update, return_new=True)
        return int(doc["seq"]) if doc else None

    async def group_in(self, n: dict[str, Any]) -> None:
        """Add a visible notification to its aggregation group (idempotent on its id)."""
        actor = n.get("actor_id")
        await apply_once(
            self.groups,
            n["group_id"],
            n["_id"],
            {
                "$inc": {"count": 1, "unread": 1},
                "$max": {"latest_at": n["created_at"], "latest_seq": n["seq"]},
                **(
                    {"$addToSet": {"actors": actor}, "$set": {"last_actor_id": actor}}
                    if actor
                    else {}
                ),
            },
            on_insert={
                "recipient_id": n["recipient_id"],
                "type": n["type"],
                "target": n["target"],
                "group_key": n["group_key"],
                "first_at": n["created_at"],
                "critical": n["critical"],
                "private": n["private"],
                "post_id": n.get("post_id"),
                "link": n["link"],
            },
        )

    # reads -----------------------------------------------------------------------------

    async def counter(self, user_id: str) -> dict[str, Any]:
        doc = await self.counters.find_one({"_id": user_id}) or {}
        return {k: max(0, int(doc.get(k, 0))) for k in ("unread", "unseen", "seq")}

    async def counters_of(self, user_ids: list[str]) -> dict[str, int]:
        docs = await self.counters.find({"_id": {"$in": user_ids}}, projection=["unread"])
        return {d["_id"]: max(0, int(d.get("unread", 0))) for d in docs}

    async def group_page(
        self,
        user_id: str,
        *,
        unread: bool,
        type_: str | None,
        limit: int,
        after: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        f: dict[str, Any] = {"recipient_id": user_id, "count": {"$gt": 0}}
        if unread:
            f["unread"] = {"$gt": 0}
        if type_:
            f["type"] = type_
        return [
            clean(d) for d in await self.groups.find(f, sort=GROUP_SORT, limit=limit, after=after)
        ]

    async def items_of(self, group_ids: list[str]) -> list[dict[str, Any]]:
        if not group_ids:
            return []
        docs = await self.notifications.find(
            {"group_id": {"$in": group_ids}, **VISIBLE}, sort=[("seq", -1), ("_id", 1)]
        )
        return [clean(d) for d in docs]

    async def since(self, user_id: str, seq: int, limit: int) -> list[dict[str, Any]]:
        docs = await self.notifications.find(
            {"recipient_id": user_id, "seq": {"$gt": seq}, **VISIBLE},
            sort=[("seq", 1), ("_id", 1)],
            limit=limit,
        )
        return [clean(d) for d in docs]

    async def recent_for(self, user_ids: list[str], since: datetime) -> list[dict[str, Any]]:
        docs = await self.notifications.find(
            {"recipient_id": {"$in": user_ids}, "created_at": {"$gte": since}, **VISIBLE},
            sort=[("seq", 1), ("_id", 1)],
        )
        return [clean(d) for d in docs]

    # read state ------------------------------------------------------------------------

    async def mark_one(self, user_id: str, nid: str, now: datetime) -> dict[str, Any] | None:
        """Mark read; the doc as it was before, or None if unknown/not the user's/already."""
        doc = await self.notifications.find_one_and_update(
            {"_id": nid, "recipient_id": user_id, "read_at": None, **VISIBLE},
            {"$set": {"read_at": now}},
            return_new=False,
        )
        if doc is not None:
            await self.groups.update_one({"_id": doc["group_id"]}, {"$inc": {"unread": -1}})
            await self.counters.update_one({"_id": user_id}, {"$inc": {"unread": -1}})
        return doc

    async def mark_group(self, user_id: str, group_id: str, now: datetime) -> int:
        result = await self.notifications.update_many(
            {"group_id": group_id, "recipient_id": user_id, "read_at": None, **VISIBLE},
            {"$set": {"read_at": now}},
        )
        n = result.modified_count
        if n:
            await self.groups.update_one({"_id": group_id}, {"$inc": {"unread": -n}})
            await self.counters.update_one({"_id": user_id}, {"$inc": {"unread": -n}})
        return n

    async def mark_all(self, user_id: str, now: datetime) -> int:
        result = await self.notifications.update_many(
            {"recipient_id": user_id, "read_at": None, **VISIBLE}, {"$set": {"read_at": now}}
        )
        n = result.modified_count
        if n:
            await self.groups.update_many(
                {"recipient_id": user_id, "unread": {"$gt": 0}}, {"$set": {"unread": 0}}
            )
            await self.counters.update_one({"_id": user_id}, {"$inc": {"unread": -n}})
        return n

    async def mark_seen(self, user_id: str, now: datetime) -> int:
        result = await self.notifications.update_many(
            {"recipient_id": user_id, "seen_at": None, "created_at": {"$lte": now}, **VISIBLE},
            {"$set": {"seen_at": now}},
        )
        await self.counters.update_one(
            {"_id": user_id}, {"$inc": {"unseen": -result.modified_count}}
        )
        return result.modified_count

    async def group(self, user_id: str, group_id: str) -> dict[str, Any] | None:
        doc = await self.groups.find_one(
            {"_id": group_id, "recipient_id": user_id, "count": {"$gt": 0}}
        )
        return clean(doc) if doc else None

    # deletions -------------------------------------------------------------------------

    async def hide_about(self, field: str, value: str) -> int:
        """Hide every notification whose `field` is `value` (a deleted post or item)."""
        hidden = 0
        for doc in await self.notifications.find({field: value, "hidden": False}):
            before = await self.notifications.find_one_and_update(
                {"_id": doc["_id"], "hidden": False},
                {"$set": {"hidden": True}},
                return_new=False,
            )
            if before is None or not before.get("in_app", True):
                continue
            hidden += 1
            unread = -1 if before.get("read_at") is None else 0
            unseen = -1 if before.get("seen_at") is None else 0
            await self.groups.update_one(
                {"_id": before["group_id"]}, {"$inc": {"count": -1, "unread": unread}}
            )
            await self.counters.update_one(
                {"_id": before["recipient_id"]}, {"$inc": {"unread": unread, "unseen": unseen}}
            )
        return hidden

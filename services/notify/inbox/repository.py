"""Notifications, aggregation groups and per-user counters through the DocumentStore port.

Counters and groups are kept as notifications are created and read, never counted on read.
Creating notifications takes three kinds of single-document writes, each done for a whole
batch at once, in this order: the recipients' counters (count them and hand out their
`seq`s), their groups, the notifications. So a notification found is always counted in its
group, and reading or hiding it only ever decrements (never sets) counts that exist. Counter
and group updates are idempotent on the notification id (`_applied`, capped), so a
redelivered event finishes the job without double counting, whichever step a crash
interrupted.

Why the counter works this way (recipients are written from many partitions and processes
at once; no multi-document transactions): one recipient's counter document is the only
place that can say atomically "these notifications are counted". So each batch reserves a
seq range per recipient with ONE write that increments `seq` by n (and `unread`/`unseen`
by the visible ones) and pushes the n notification ids onto `_applied`, guarded by
`_applied` holding none of them. The returned `seq` is the top of the range. (With the
counter just read, that guard is "`seq` unchanged": `seq` is `_applied`'s version, so the
write is one plain update, not the store's read-and-swap for a capped `$push`.) If the guard
misses, some were counted before (a redelivery, or a failed batch replayed event by event):
each one is then claimed alone, and one found counted whose notification does not exist gets
a fresh seq without being counted again (a gap in seq is harmless: it only orders). A
recipient without a counter document gets it by one bulk insert for the whole batch.
`APPLIED_CAP` is above the bus's batch size, so a batch never pushes its own ids out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shared.bus.port import PER_EVENT_WINDOW
from shared.events.envelope import Event
from shared.outbox import outbox_records
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection, DocumentStore
from shared.store.reads import find_by_ids

NOTIFICATIONS = "notifications"
# The notifications' `created` events, as outbox records (see `announce`).
OUTBOX = "notification_outbox"
GROUPS = "notification_groups"
COUNTERS = "unread_counters"
APPLIED_CAP = 512
# Events per batch of the inbox consumer. Above APPLIED_CAP on purpose: the service looks
# for what is stored first and counts in chunks (`Inbox._write` says why that is exact).
# A batch costs about ten round trips whatever its size, so larger batches spread them.
INBOX_BATCH = 2000
GROUP_SORT = [("latest_at", -1), ("_id", -1)]
VISIBLE = {"hidden": False, "in_app": True}


def shown(doc: dict[str, Any]) -> bool:
    """`VISIBLE` for a document in hand: shown in the app (the others only take a seq)."""
    return not doc.get("hidden") and bool(doc.get("in_app", True))


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
        self.outbox = store.collection(OUTBOX)

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

    async def announce(self, events: Sequence[Event]) -> None:
        """Store notifications' events for the relay (written after the notifications)."""
        await self.outbox.insert_many(outbox_records(events, PER_EVENT_WINDOW))

    async def insert_all(self, docs: Sequence[dict[str, Any]]) -> list[str]:
        """Insert notification documents; the ids inserted.

        One bulk insert; ids that exist already (a redelivery) make it fall back to one
        insert each, which skips them."""
        try:
            await self.notifications.insert_many(list(docs))
            return [d["_id"] for d in docs]
        except DuplicateKeyError:
            pass
        inserted = []
        for doc in docs:
            try:
                await self.notifications.insert_one(doc)
                inserted.append(doc["_id"])
            except DuplicateKeyError:
                continue
        return inserted

    async def existing(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = await find_by_ids(self.notifications, ids)
        return {nid: clean(d) for nid, d in found.items()}

    async def claim(self, user_id: str, nid: str, *, visible: bool) -> int | None:
        """Count notification `nid` in its recipient's counters and give it the next `seq`,
        in one write; None when `nid` was counted already (a redelivered event)."""
        seqs = await self._claim_range(user_id, [(nid, visible)], upsert=True)
        return seqs[0] if seqs else None

    async def claim_all(self, wants: dict[str, list[tuple[str, bool]]]) -> dict[str, int]:
        """Count each recipient's (notification id, visible) pairs and give each its `seq`.

        Returns {notification id: seq} for the ones counted now; an id absent from the
        answer was counted before (see the module docstring for why this is exact)."""
        seqs: dict[str, int] = {}
        if not wants:
            return seqs
        known = {
            d["_id"]: d
            for d in await self.counters.find(
                {"_id": {"$in": list(wants)}}, projection=["seq", "_applied"]
            )
        }
        fresh = [u for u in wants if u not in known]
        if fresh:
            fresh = await self._insert_counters(fresh, wants)
            for user in fresh:  # new counters: seqs 1..n
                seqs.update((nid, i + 1) for i, (nid, _) in enumerate(wants[user]))
            fresh = [u for u in wants if u not in known and u not in fresh]
        for user in [*fresh, *(u for u in wants if u in known)]:
            pairs = wants[user]
            got = await self._claim_known(known[user], pairs) if user in known else None
            if got is None:
                got = await self._claim_range(user, pairs, upsert=user in fresh)
            if got is not None:
                seqs.update((nid, s) for (nid, _), s in zip(pairs, got, strict=True))
                continue
            for nid, visible in pairs:  # some were counted before: one at a time
                one = await self._claim_range(user, [(nid, visible)], upsert=False)
                if one is not None:
                    seqs[nid] = one[0]
        return seqs

    async def _insert_counters(
        self, users: list[str], wants: dict[str, list[tuple[str, bool]]]
    ) -> list[str]:
        """Create the counters of recipients who have none; the ones created this way."""
        docs = []
        for user in users:
            pairs = wants[user]
            visible = sum(1 for _, v in pairs if v)
            docs.append(
                {
                    "_id": user,
                    "seq": len(pairs),
                    "unread": visible,
                    "unseen": visible,
                    "_applied": [nid for nid, _ in pairs][-APPLIED_CAP:],
                }
            )
        try:
            await self.counters.insert_many(docs)
            return users
        except DuplicateKeyError:
            pass
        # Another writer created one meanwhile; the ones before it in the list may be ours.
        # A counter that starts with exactly these ids was created for exactly them (by us
        # or by an earlier delivery of the same events): they are counted with seqs 1..n.
        # The others go through the guarded claim.
        created = []
        for doc in await self.counters.find({"_id": {"$in": list(users)}}):
            nids = [nid for nid, _ in wants[doc["_id"]]]
            if len(nids) <= APPLIED_CAP and list(doc.get("_applied", []))[: len(nids)] == nids:
                created.append(doc["_id"])
        return created

    async def _claim_known(
        self, doc: dict[str, Any], pairs: list[tuple[str, bool]]
    ) -> list[int] | None:
        """The guarded claim in ONE plain write, from the counter as read: `seq` is the
        version of `_applied` (every write that changes `_applied` increments `seq`), so
        "seq unchanged" means "none of these applied since we looked". None if it changed
        or some were applied before (the caller then takes the general path)."""
        applied = list(doc.get("_applied") or [])
        nids = [nid for nid, _ in pairs]
        if "seq" not in doc or not set(nids).isdisjoint(applied):
            return None
        visible = sum(1 for _, v in pairs if v)
        inc = {"seq": len(pairs), "unread": visible, "unseen": visible} if visible else {}
        result = await self.counters.update_one(
            {"_id": doc["_id"], "seq": doc["seq"]},
            {
                "$inc": inc or {"seq": len(pairs)},
                "$set": {"_applied": (applied + nids)[-APPLIED_CAP:]},
            },
        )
        if not result.matched_count:
            return None
        base = int(doc["seq"])
        return list(range(base + 1, base + len(pairs) + 1))

    async def _claim_range(
        self, user_id: str, pairs: list[tuple[str, bool]], *, upsert: bool
    ) -> list[int] | None:
        nids = [nid for nid, _ in pairs]
        visible = sum(1 for _, v in pairs if v)
        inc = (
            {"seq": len(pairs), "unread": visible, "unseen": visible}
            if visible
            else {"seq": len(pairs)}
        )
        update = {"$inc": inc, "$push": {"_applied": {"$each": nids, "$slice": -APPLIED_CAP}}}
        unapplied = {"_id": user_id, "_applied": {"$nin": nids}}
        try:
            doc = await self.counters.find_one_and_update(
                unapplied, update, upsert=upsert, return_new=True
            )
        except DuplicateKeyError:
            doc = await self.counters.find_one_and_update(unapplied, update, return_new=True)
        if doc is None:
            return None
        top = int(doc["seq"])
        return list(range(top - len(pairs) + 1, top + 1))

    async def reserve_seqs(self, user_id: str, n: int) -> list[int]:
        doc = await self.counters.find_one_and_update(
            {"_id": user_id}, {"$inc": {"seq": n}}, upsert=True, return_new=True
        )
        assert doc is not None
        top = int(doc["seq"])
        return list(range(top - n + 1, top + 1))

    async def group_in(self, n: dict[str, Any]) -> None:
        """Add a visible notification to its aggregation group (idempotent on its id)."""
        await self.group_all([n])

    async def group_all(self, notifications: Sequence[dict[str, Any]]) -> None:
        """Add visible notifications to their aggregation groups (idempotent on their ids):
        new groups by one bulk insert, each existing group by one guarded update."""
        by_group: dict[str, dict[str, dict[str, Any]]] = {}
        for n in notifications:
            by_group.setdefault(n["group_id"], {}).setdefault(n["_id"], n)
        if not by_group:
            return
        known = {
            d["_id"]: d
            for d in await self.groups.find(
                {"_id": {"$in": list(by_group)}}, projection=["_v", "_applied"]
            )
        }
        fresh = [g for g in by_group if g not in known]
        if fresh:
            docs = [_new_group(g, list(by_group[g].values())) for g in fresh]
            try:
                await self.groups.insert_many(docs)
                fresh = []
            except DuplicateKeyError:
                pass  # created meanwhile: the guarded updates below skip what is applied
        for gid in [*fresh, *(g for g in by_group if g in known)]:
            items = list(by_group[gid].values())
            if gid in known and await self._group_known(known[gid], items):
                continue
            nids = [n["_id"] for n in items]
            result = await self.groups.update_one(
                {"_id": gid, "_applied": {"$nin": nids}}, _group_update(items)
            )
            if result.matched_count:
                continue
            for n in items:  # some applied before (or the group is new): one at a time
                await apply_once(
                    self.groups,
                    gid,
                    n["_id"],
                    _group_update([n], push=False),
                    on_insert=_group_seed(n),
                )

    async def _group_known(self, doc: dict[str, Any], items: list[dict[str, Any]]) -> bool:
        """Apply `items` to a group as read, in one plain write guarded by `_v` (counts the
        ids ever applied, so it changes whenever `_applied` does); False if it changed or
        some were applied before (the caller then takes the general path)."""
        applied = list(doc.get("_applied") or [])
        nids = [n["_id"] for n in items]
        if "_v" not in doc or not set(nids).isdisjoint(applied):
            return False
        update = _group_update(items, push=False)
        update["$set"] = {**update.get("$set", {}), "_applied": (applied + nids)[-APPLIED_CAP:]}
        result = await self.groups.update_one({"_id": doc["_id"], "_v": doc["_v"]}, update)
        return result.matched_count == 1

    # reads -----------------------------------------------------------------------------

    async def counter(self, user_id: str) -> dict[str, Any]:
        # Without `_applied`: the unread badge is read far more often than it changes.
        found = await self.counters.find(
            {"_id": user_id}, limit=1, projection=["unread", "unseen", "seq"]
        )
        doc = found[0] if found else {}
        return {k: max(0, int(doc.get(k, 0))) for k in ("unread", "unseen", "seq")}

    async def counters_of(self, user_ids: list[str]) -> dict[str, int]:
        docs = await self.counters.find({"_id": {"$in": list(user_ids)}}, projection=["unread"])
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
            _group_read(d)
            for d in await self.groups.find(f, sort=GROUP_SORT, limit=limit, after=after)
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
        """Recent notifications of these users, hidden ones too: the stream shows only the
        others, but needs every seq to tell a gap that will fill from one that will not."""
        docs = await self.notifications.find(
            {"recipient_id": {"$in": user_ids}, "created_at": {"$gte": since}},
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
        n = await self._mark_in_group(user_id, group_id, now)
        if n:
            await self.counters.update_one({"_id": user_id}, {"$inc": {"unread": -n}})
        return n

    async def mark_all(self, user_id: str, now: datetime) -> int:
        """Mark read group by group. A notification may be written to a group meanwhile
        (its +1 before or after our write), so a group's unread never takes an absolute
        value: it goes down by exactly what was marked in it, like the counter."""
        unread = await self.notifications.find(
            {"recipient_id": user_id, "read_at": None, **VISIBLE}, projection=["group_id"]
        )
        n = 0
        for group_id in sorted({d["group_id"] for d in unread}):
            n += await self._mark_in_group(user_id, group_id, now)
        if n:
            await self.counters.update_one({"_id": user_id}, {"$inc": {"unread": -n}})
        return n

    async def _mark_in_group(self, user_id: str, group_id: str, now: datetime) -> int:
        """Mark the user's unread notifications in one group read; the group's unread goes
        down by the number this write changed (the group exists: it is written first)."""
        result = await self.notifications.update_many(
            {"group_id": group_id, "recipient_id": user_id, "read_at": None, **VISIBLE},
            {"$set": {"read_at": now}},
        )
        n = result.modified_count
        if n:
            await self.groups.update_one({"_id": group_id}, {"$inc": {"unread": -n}})
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
        return _group_read(doc) if doc else None

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


def _group_seed(n: dict[str, Any]) -> dict[str, Any]:
    """What a group takes from its first notification."""
    return {
        "recipient_id": n["recipient_id"],
        "type": n["type"],
        "target": n["target"],
        "group_key": n["group_key"],
        "first_at": n["created_at"],
        "critical": n["critical"],
        "private": n["private"],
        "post_id": n.get("post_id"),
        "link": n["link"],
    }


def _group_update(items: list[dict[str, Any]], *, push: bool = True) -> dict[str, Any]:
    """Adding `items` to a group: the same result as adding them one by one, in order."""
    actors = [n["actor_id"] for n in items if n.get("actor_id")]
    update: dict[str, Any] = {
        # `_v`: how many ids were ever applied, the version `_group_known` guards on.
        "$inc": {"count": len(items), "unread": len(items), "_v": len(items)},
        "$max": {
            "latest_at": max(n["created_at"] for n in items),
            "latest_seq": max(n["seq"] for n in items),
        },
    }
    if actors:
        update["$addToSet"] = {"actors": {"$each": list(dict.fromkeys(actors))}}
        # `$max`, not `$set`: writes to one group land in any order (other partitions).
        update["$max"]["last_actor"] = _last_actor(items)
    if push:
        nids = [n["_id"] for n in items]
        update["$push"] = {"_applied": {"$each": nids, "$slice": -APPLIED_CAP}}
    return update


def _new_group(group_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A group document as adding `items` one by one to nothing would leave it."""
    actors = [n["actor_id"] for n in items if n.get("actor_id")]
    doc = {
        "_id": group_id,
        **_group_seed(items[0]),
        "count": len(items),
        "unread": len(items),
        "_v": len(items),
        "latest_at": max(n["created_at"] for n in items),
        "latest_seq": max(n["seq"] for n in items),
        "_applied": [n["_id"] for n in items][-APPLIED_CAP:],
    }
    if actors:
        doc["actors"] = list(dict.fromkeys(actors))
        doc["last_actor"] = _last_actor(items)
    return doc


def _last_actor(items: list[dict[str, Any]]) -> str:
    """The latest of `items`' actors as a key that sorts by the event's time (to the
    millisecond, what every store keeps), then actor id: the group keeps the greatest."""
    keys = []
    for n in items:
        if n.get("actor_id"):
            at = n.get("event_at") or n["created_at"]
            at = at.astimezone(UTC) if at.tzinfo else at
            keys.append(f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}|{n['actor_id']}")
    return max(keys)


def _group_read(doc: dict[str, Any]) -> dict[str, Any]:
    """A group as readers know it: `last_actor_id` from the `last_actor` key (groups
    written before the key have only `last_actor_id`)."""
    out = clean(doc)
    key = out.pop("last_actor", None)
    if key:
        out["last_actor_id"] = key.split("|", 1)[1]
    return out

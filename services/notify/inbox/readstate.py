"""Reading, seeing and hiding notifications: the counts go down exactly once, even across
a crash.

Marking read (or seen, or hiding) writes the notifications first, then decrements their
groups' and the recipient's counts: documents apart, with no multi-document transactions.
A crash, or a store error, between those writes must not leave the counts too high for
good (a retry finds the notifications already read, and would change nothing). So:

- every mark is an *operation* with an id. Before touching the notifications it records
  itself on the recipient's counter (`_pending.<op>`: kind and time); the notifications it
  marks carry its id (`read_op` / `seen_op`);
- each decrement is a compare-and-swap on the document's `_rv` that also adds the op id to
  the document's `_reads` (its last READS_KEPT op ids), and skips a document that already
  names it: applying an op twice changes nothing;
- the counter's decrement, last, removes `_pending.<op>` in the same write.

An op still pending ten minutes after it began was interrupted: the recipient's next mark (of
any kind) finishes it first, counting what it marked from the notifications that carry its
id, and a sweep every SWEEP_SECONDS finishes those of people who do not mark again
(`_pending_n` counts a counter's pending ops, so the sweep reads only those counters).
Ops are finished before new ones add ids, so `_reads` never forgets an op that is still
pending. Hiding (a deleted post or item) uses the notification's own id as its op and
is finished by the event's redelivery: `hide_done` says a hidden notification's counts are
settled.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from shared.store.port import Collection

log = structlog.get_logger()

# Op ids a group or counter remembers; pending ops are finished before new ones begin, so
# this only has to cover the ops of one person racing with themselves (two tabs).
READS_KEPT = 64
# An op this old that is still pending was interrupted: a mark takes milliseconds, and its
# store calls time out in seconds, so no live mark is ever this old. (Finishing a live op
# would count only what it had marked so far: the rest of its counter decrement is lost.)
STALE_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 100
SWEEP_SECONDS = 300.0
SWEEP_PAGE = 500
VISIBLE = {"hidden": False, "in_app": True}
PRIVATE_FIELDS = ("_reads", "_hides", "_rv", "_pending", "_pending_n")


class ReadState:
    def __init__(self, notifications: Collection, groups: Collection, counters: Collection):
        self.notifications = notifications
        self.groups = groups
        self.counters = counters

    # marks -------------------------------------------------------------------------------

    async def mark_one(self, user_id: str, nid: str, now: datetime) -> dict[str, Any] | None:
        """Mark read; the doc as it was before, or None if unknown/not the user's/already."""
        op = await self._begin(user_id, "read", now)
        doc = await self.notifications.find_one_and_update(
            {"_id": nid, "recipient_id": user_id, "read_at": None, **VISIBLE},
            {"$set": {"read_at": now, "read_op": op}},
            return_new=False,
        )
        await self._finish(user_id, op, "unread", Counter([doc["group_id"]] if doc else []))
        return doc

    async def mark_group(self, user_id: str, group_id: str, now: datetime) -> int:
        op = await self._begin(user_id, "read", now)
        n = await self._mark_in_group(user_id, group_id, op, now)
        await self._finish(user_id, op, "unread", Counter({group_id: n}))
        return n

    async def mark_all(self, user_id: str, now: datetime) -> int:
        """Mark read group by group: each group's unread goes down by exactly what was
        marked in it (a notification may be added to it meanwhile), like the counter."""
        op = await self._begin(user_id, "read", now)
        unread = await self.notifications.find(
            {"recipient_id": user_id, "read_at": None, **VISIBLE}, projection=["group_id"]
        )
        marked: Counter[str] = Counter()
        for group_id in sorted({d["group_id"] for d in unread}):
            marked[group_id] = await self._mark_in_group(user_id, group_id, op, now)
        await self._finish(user_id, op, "unread", marked)
        return sum(marked.values())

    async def mark_seen(self, user_id: str, now: datetime) -> int:
        op = await self._begin(user_id, "seen", now)
        result = await self.notifications.update_many(
            {"recipient_id": user_id, "seen_at": None, "created_at": {"$lte": now}, **VISIBLE},
            {"$set": {"seen_at": now, "seen_op": op}},
        )
        await self._finish(user_id, op, "unseen", Counter(), total=result.modified_count)
        return result.modified_count

    async def _mark_in_group(self, user_id: str, group_id: str, op: str, now: datetime) -> int:
        result = await self.notifications.update_many(
            {"group_id": group_id, "recipient_id": user_id, "read_at": None, **VISIBLE},
            {"$set": {"read_at": now, "read_op": op}},
        )
        return result.modified_count

    # ops ---------------------------------------------------------------------------------

    async def _begin(self, user_id: str, kind: str, now: datetime) -> str:
        """Record a new op, then finish the person's interrupted ones; its id."""
        op = "o" + uuid.uuid4().hex  # a plain field name: `_pending.<op>`
        # No counter: the person never had a notification, and no mark will find one.
        before = await self.counters.find_one_and_update(
            {"_id": user_id},
            {"$set": {f"_pending.{op}": {"kind": kind, "at": now}}, "$inc": {"_pending_n": 1}},
            return_new=False,
        )
        # The same write told which ops were pending: most marks find none and read nothing.
        if _stale((before or {}).get("_pending") or {}, now):
            await self.finish_interrupted(user_id, now)
        return op

    async def run(self) -> None:
        """The background sweep: finish interrupted ops of people who do not mark again."""
        while True:
            try:
                finished = await self.sweep()
                if finished:
                    log.info("notify.inbox.marks_finished", ops=finished)
            except Exception:
                log.exception("notify.inbox.sweep_failed")
            await asyncio.sleep(SWEEP_SECONDS)

    async def sweep(self, now: datetime | None = None) -> int:
        """Finish every op that has been pending over STALE_AFTER; how many."""
        now = now or datetime.now(UTC)
        finished, after = 0, None
        while True:
            docs = await self.counters.find(
                {"_pending_n": {"$gt": 0}},
                sort=[("_id", 1)],
                limit=SWEEP_PAGE,
                after=after,
                projection=["_id"],
            )
            for doc in docs:
                finished += await self.finish_interrupted(doc["_id"], now)
            if len(docs) < SWEEP_PAGE:
                return finished
            after = {"_id": docs[-1]["_id"]}

    async def finish_interrupted(self, user_id: str, now: datetime) -> int:
        """Finish the person's ops that began over STALE_AFTER ago and never ended; how many."""
        docs = await self.counters.find({"_id": user_id}, limit=1, projection=["_pending"])
        pending = (docs[0] if docs else {}).get("_pending") or {}
        stale = _stale(pending, now)
        for op in stale:
            kind = pending[op]["kind"]
            field = "read_op" if kind == "read" else "seen_op"
            marked = await self.notifications.find(
                {"recipient_id": user_id, field: op}, projection=["group_id"]
            )
            if kind == "read":
                await self._finish(user_id, op, "unread", Counter(d["group_id"] for d in marked))
            else:
                await self._finish(user_id, op, "unseen", Counter(), total=len(marked))
        return len(stale)

    async def _finish(
        self,
        user_id: str,
        op: str,
        field: str,
        per_group: Counter[str],
        *,
        total: int | None = None,
    ) -> None:
        """Decrement each group's `field` by its count and the counter by the total, each
        once for this op; the counter's write ends the op."""
        for group_id, n in sorted(per_group.items()):
            if n:
                await self._decrement(self.groups, group_id, op, {field: -n})
        n = sum(per_group.values()) if total is None else total
        await self._decrement(self.counters, user_id, op, {field: -n}, ends_op=True)

    async def _decrement(
        self,
        collection: Collection,
        doc_id: str,
        op: str,
        inc: dict[str, int],
        *,
        memory: str = "_reads",
        ends_op: bool = False,
    ) -> None:
        """Apply `inc` to one document unless it names `op` already in `memory` (its last
        READS_KEPT op ids; compare-and-swap on `_rv`). `ends_op`: the counter's write,
        which also takes the op out of `_pending` (and `_pending_n`, if it was there: a
        counter created after the op began never had it)."""
        fields = [memory, "_rv", "_pending"] if ends_op else [memory, "_rv"]
        for _ in range(MAX_ATTEMPTS):
            found = await collection.find({"_id": doc_id}, limit=1, projection=fields)
            if not found:
                return
            doc = found[0]
            done = str(doc.get(memory) or "").split()
            if op in done:
                return
            update: dict[str, Any] = {
                "$inc": {**inc, "_rv": 1},
                "$set": {memory: " ".join([*done, op][-READS_KEPT:])},
            }
            if ends_op and op in (doc.get("_pending") or {}):
                update["$inc"]["_pending_n"] = -1
                update["$unset"] = {f"_pending.{op}": ""}
            result = await collection.update_one({"_id": doc_id, "_rv": doc.get("_rv")}, update)
            if result.matched_count:
                return
        raise RuntimeError(f"{doc_id} kept changing while its counts went down (retry)")

    # hiding ------------------------------------------------------------------------------

    async def hide_about(self, field: str, value: str) -> int:
        """Hide every notification whose `field` is `value` (a deleted post or item)."""
        return await self.hide_where({field: value})

    async def hide_where(self, filter: dict[str, Any]) -> int:
        """Hide every notification matching `filter`; how many this call hid. Those hidden
        before whose counts a crash left unsettled are settled too (a redelivered event)."""
        hidden = 0
        docs = await self.notifications.find(
            {**filter, "hide_done": {"$ne": True}}, projection=["hidden", "hide_done"]
        )
        # Those a crash left hidden but unsettled first, while their op ids are still in
        # the groups' and counters' memories (then the rest, in one order for every hider).
        docs.sort(key=lambda d: (not d.get("hidden"), d["_id"]))
        for doc in docs:
            if doc.get("hidden") and "hide_done" not in doc:
                continue  # hidden before ops existed, its counts settled then
            if not doc.get("hidden"):
                result = await self.notifications.update_one(
                    {"_id": doc["_id"], "hidden": False},
                    {"$set": {"hidden": True, "hide_done": False}},
                )
                hidden += result.modified_count
            # Hidden, its read and seen states cannot change any more: read them now.
            after = await self.notifications.find_one({"_id": doc["_id"]})
            if after is None or after.get("hide_done"):
                continue  # settled meanwhile by another hider
            if after.get("in_app", True):
                await self._unhook(after)
            await self.notifications.update_one(
                {"_id": after["_id"]}, {"$set": {"hide_done": True}}
            )
        return hidden

    async def _unhook(self, doc: dict[str, Any]) -> None:
        """Take a hidden notification out of its group's and recipient's counts (once)."""
        unread = -1 if doc.get("read_at") is None else 0
        unseen = -1 if doc.get("seen_at") is None else 0
        op = f"h:{doc['_id']}"
        # Their own memory (`_hides`): a post with many notifications must not push a
        # pending mark's op out of `_reads` (it would be applied again when finished).
        group_inc = {"count": -1, "unread": unread}
        await self._decrement(self.groups, doc["group_id"], op, group_inc, memory="_hides")
        await self._decrement(
            self.counters,
            doc["recipient_id"],
            op,
            {"unread": unread, "unseen": unseen},
            memory="_hides",
        )


def _stale(pending: dict[str, Any], now: datetime) -> list[str]:
    """The pending ops that began over STALE_AFTER ago (interrupted)."""
    return [op for op, p in pending.items() if p["at"] <= now - STALE_AFTER]

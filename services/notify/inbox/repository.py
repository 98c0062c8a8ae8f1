"""Notifications, aggregation groups and per-user counters through the DocumentStore port.

Counters and groups are kept as notifications are created and read, never counted on read.
Creating notifications takes three kinds of single-document writes, each done for a whole
batch at once, in this order: the recipients' counters (count them and hand out their
`seq`s), their groups, the notifications. So a notification found is always counted in its
group, and reading or hiding it only ever decrements (never sets) counts that exist. Counter
and group updates are idempotent on the notification id (`_applied`, the last ids), so a
redelivered event finishes the job without double counting, whichever step a crash
interrupted.

Why the counter works this way (recipients are written from many partitions and processes
at once; no multi-document transactions): one recipient's counter document is the only
place that can say atomically "these notifications are counted". So each chunk reserves a
seq range per recipient with ONE write that increments `seq` by n (and `unread`/`unseen`
by the visible ones) and adds the n notification ids to `_applied`, guarded by `seq`
unchanged since the counter was read: `seq` is `_applied`'s version (every write that
changes `_applied` increments it), so the guard means "none of these applied since we
looked", and none were when we looked. The returned range ends at the new `seq`. If the
guard misses, the counter is read again: ids found counted were counted before (a
redelivery, or a failed batch replayed event by event), the others are claimed one at a
time, and one found counted whose notification does not exist gets a fresh seq without
being counted again (a gap in seq is harmless: it only orders). A recipient without a
counter document gets it by one bulk insert for the whole chunk. Groups work the same way,
with `_v` (ids ever applied) as the version.

The service counts a batch in chunks of at most `CLAIM_CHUNK` notifications per recipient,
well under `APPLIED_CAP`, after looking for what is stored (`Inbox._write`), so a chunk
never pushes its own ids out. Known recipients' claims, and known groups' updates, go to
the store in one round trip per chunk (`update_each`). `_applied` is one string of ids
(`applied_ids` says why).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from services.notify.inbox.readstate import PRIVATE_FIELDS, ReadState
from shared.events.envelope import Event
from shared.outbox import outbox_records
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore
from shared.store.reads import find_by_ids
from shared.store.writes import insert_new

NOTIFICATIONS = "notifications"
# The notifications' `created` events, as outbox records (see `announce`).
OUTBOX = "notification_outbox"
# Events per outbox record. The relay publishes a record whole and deletes it after, so
# this is also what a relay crash can publish twice. Other topics' records keep to
# PER_EVENT_WINDOW (100), which consumers that dedupe per document with capped id lists
# rely on; no Canteen consumer reads `notification.created` (analytics must dedupe by
# event id in any case), so records are larger here: at 100 the relay, a publish and a
# delete per record, fell behind an inbox handling ~2,800 events/s.
RECORD_EVENTS = 500
GROUPS = "notification_groups"
# Who acted in each group that ever had more than ACTORS_KEPT actors: `_id` = "<group>|<actor>",
# `by` = the notification that first brought them ("" when recorded from the group's list).
GROUP_ACTORS = "notification_group_actors"
COUNTERS = "unread_counters"
# Actors a group document names (the latest to join it). A group that could have more (its
# `_v`, the notifications it ever took, says so) keeps an exact `actor_count` and records its
# actors in GROUP_ACTORS: a post with 100,000 reactions would otherwise give its author a
# group of 100,000 ids, read on every inbox page. (`$push` with `$slice` would bound the
# list, but FerretDB ignores `$slice`, and the port's emulation costs a compare-and-swap.)
ACTORS_KEPT = 50
# Notification ids a counter or group keeps (`_applied`). They only have to remember what a
# crash left counted but not stored: one chunk of at most CLAIM_CHUNK ids per recipient,
# plus what other writers (other partitions) count for that recipient before the
# redelivery. Kept small because every claim reads and rewrites them: 512 ids made each
# counter ~17 KB, and a batch for 2,000 known recipients read and wrote 34 MB.
APPLIED_CAP = 128
# ... and only those claimed in the last hour (`kept`).
APPLIED_MINUTES = 60
# The most notifications of one recipient counted in one chunk (`Inbox._write`).
CLAIM_CHUNK = 32
# Events per batch of the inbox consumer. Above APPLIED_CAP on purpose: the service looks
# for what is stored first and counts in chunks (`Inbox._write` says why that is exact).
# A batch costs about ten round trips whatever its size, so larger batches spread them.
INBOX_BATCH = 2000
GROUP_SORT = [("latest_at", -1), ("_id", -1)]
ITEM_SORT = [("seq", -1), ("_id", 1)]
# Groups counting at most this many items are read together on an inbox page (`items_of`).
SMALL_GROUP = 20
VISIBLE = {"hidden": False, "in_app": True}
# Notifications about a group itself, to people who need not be its members (rules.py).
MEMBERSHIP_TYPES = ("group.invited", "group.join_requested", "group.approved")


def shown(doc: dict[str, Any]) -> bool:
    """`VISIBLE` for a document in hand: shown in the app (the others only take a seq)."""
    return not doc.get("hidden") and bool(doc.get("in_app", True))


def clean(doc: dict[str, Any]) -> dict[str, Any]:
    hidden = {"_applied", *PRIVATE_FIELDS}
    return {k: v for k, v in strip_outbox(doc).items() if k not in hidden}


def applied_ids(doc: dict[str, Any]) -> list[str]:
    """The notification ids a counter or group keeps, oldest first."""
    return [nid for _, ids in _claims(doc.get("_applied")) for nid in ids]


def kept(previous: Any, nids: list[str], *, minute: int | None = None) -> str:
    """`_applied` after a claim of `nids` now: the claims of the last APPLIED_MINUTES (the
    newest APPLIED_CAP ids at most), then this one.

    Kept as ONE string, `<minute>:<id>,<id> <minute>:<id>`: the test FerretDB decodes every
    array element on each read and write, and 128 ids as an array made reading 2,000
    counters take 0.8 s (0.26 s as a string, 0.1 s without). And only recent claims, so a
    counter usually holds a handful: the ids cover what a crash left counted but not
    stored until the redelivery, which comes when the partition is handed over (seconds)
    or the service restarts (no writes to prune them meanwhile)."""
    now = int(time.time() // 60) if minute is None else minute
    claims = [(m, ids) for m, ids in _claims(previous) if m >= now - APPLIED_MINUTES]
    claims.append((now, list(nids)))
    room, out = APPLIED_CAP, []
    for m, ids in reversed(claims):
        if room <= 0:
            break
        ids = ids[-room:]
        room -= len(ids)
        out.append(f"{m}:{','.join(ids)}")
    return " ".join(reversed(out))


def _claims(value: Any) -> list[tuple[int, list[str]]]:
    """(minute, ids) of each claim in a kept `_applied`, oldest first. Documents written
    before session 19 hold a list of ids: read as one claim of long ago."""
    if not value:
        return []
    if not isinstance(value, str):
        return [(0, [str(v) for v in value])]
    out = []
    for token in value.split():
        minute, _, ids = token.rpartition(":")
        out.append((int(minute or 0), ids.split(",")))
    return out


class InboxRepository:
    def __init__(self, store: DocumentStore) -> None:
        self.notifications = store.collection(NOTIFICATIONS)
        self.groups = store.collection(GROUPS)
        self.group_actors = store.collection(GROUP_ACTORS)
        self.counters = store.collection(COUNTERS)
        self.outbox = store.collection(OUTBOX)
        self.read_state = ReadState(self.notifications, self.groups, self.counters)

    async def prepare(self) -> None:
        n = self.notifications
        await n.create_index([("recipient_id", 1), ("seq", 1)])
        # (recipient_id, created_at): the stream's tail of its users' recent notifications.
        # Nothing reads by `created_at` alone: every index is work on each insert.
        await n.create_index([("recipient_id", 1), ("created_at", -1)])
        await n.create_index([("group_id", 1), ("seq", -1)])
        await n.create_index([("post_id", 1)])
        await n.create_index([("item_id", 1)])
        # A group deleted or turned private takes what was said in it out of inboxes.
        await n.create_index([("audience_group_id", 1)])
        await self.groups.create_index([("recipient_id", 1), ("latest_at", -1), ("_id", -1)])

    # creation -------------------------------------------------------------------------

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        doc = await self.notifications.find_one({"_id": notification_id})
        return clean(doc) if doc else None

    async def announce(self, events: Sequence[Event]) -> list[dict[str, Any]]:
        """Store notifications' events for the relay (written after the notifications);
        the records inserted."""
        records = outbox_records(events, RECORD_EVENTS)
        await self.outbox.insert_many(records)
        return records

    async def insert_all(self, docs: Sequence[dict[str, Any]]) -> list[str]:
        """Insert notification documents; the ids inserted (a redelivery's are skipped)."""
        return await insert_new(self.notifications, docs)

    async def existing(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = await find_by_ids(self.notifications, ids)
        return {nid: clean(d) for nid, d in found.items()}

    async def claim(self, user_id: str, nid: str, *, visible: bool) -> int | None:
        """Count notification `nid` in its recipient's counters and give it the next `seq`,
        in one write; None when `nid` was counted already (a redelivered event)."""
        seqs = await self._claim_range(user_id, [(nid, visible)])
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
        done = await self._claim_known_all(known, wants, seqs)
        for user in [*fresh, *(u for u in wants if u in known and u not in done)]:
            pairs = wants[user]
            got = await self._claim_range(user, pairs)
            if got is not None:
                seqs.update((nid, s) for (nid, _), s in zip(pairs, got, strict=True))
                continue
            for nid, visible in pairs:  # some were counted before: one at a time
                one = await self._claim_range(user, [(nid, visible)])
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
                    "_applied": kept(None, [nid for nid, _ in pairs]),
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
            if len(nids) <= APPLIED_CAP and applied_ids(doc)[: len(nids)] == nids:
                created.append(doc["_id"])
        return created

    async def _claim_known_all(
        self,
        known: dict[str, dict[str, Any]],
        wants: dict[str, list[tuple[str, bool]]],
        seqs: dict[str, int],
    ) -> set[str]:
        """The guarded claims of recipients whose counters were just read, all in ONE
        round trip (`update_each`); the recipients settled (their seqs added to `seqs`, or
        found counted already). The others take the general path.

        Each write is plain, guarded by `seq` unchanged: `seq` is the version of `_applied`
        (every write that changes `_applied` increments it), so "seq unchanged" means "none
        of these applied since we looked". The store reports only how many matched: when
        some missed (another writer, a redelivery), the counters are read again, and a
        recipient whose ids are all there was counted: with our seqs if `seq` moved by
        exactly ours since (that write, or an identical one from the same state), else by
        someone else (left out of `seqs`: the caller finds them stored or gives fresh seqs,
        never counting twice)."""
        plans: dict[str, tuple[int, list[str]]] = {}
        ops = []
        for user, doc in known.items():
            applied = applied_ids(doc)
            pairs = wants[user]
            nids = [nid for nid, _ in pairs]
            if "seq" not in doc or not set(nids).isdisjoint(applied):
                continue
            ops.append(
                (
                    {"_id": user, "seq": doc["seq"]},
                    {
                        "$inc": _claim_inc(pairs),
                        "$set": {"_applied": kept(doc.get("_applied"), nids)},
                    },
                )
            )
            plans[user] = (int(doc["seq"]), nids)
        if not ops:
            return set()
        settled: set[str] = set()
        if await self.counters.update_each(ops) == len(ops):
            for base, nids in plans.values():
                seqs.update((nid, base + i + 1) for i, nid in enumerate(nids))
            return set(plans)
        after = await find_by_ids(self.counters, list(plans), projection=["seq", "_applied"])
        for user, (base, nids) in plans.items():
            doc = after.get(user) or {}
            if not set(nids) <= set(applied_ids(doc)):
                continue  # not (all) counted: the general path claims what is left
            settled.add(user)
            if doc.get("seq") == base + len(nids):
                seqs.update((nid, base + i + 1) for i, nid in enumerate(nids))
        return settled

    async def _claim_range(self, user_id: str, pairs: list[tuple[str, bool]]) -> list[int] | None:
        """Count `pairs` for `user_id` and give them the next seqs, unless one of them was
        counted already (then None: the caller claims them one at a time). Read the counter,
        then one write guarded by `seq` unchanged (the version of `_applied`); read again
        if another write came first. A recipient without a counter gets one with these."""
        nids = [nid for nid, _ in pairs]
        n, visible = len(pairs), sum(1 for _, v in pairs if v)
        inc = _claim_inc(pairs)
        while True:
            doc = await self.counters.find_one({"_id": user_id})
            if doc is None:
                fresh = {"_id": user_id, "seq": n, "unread": visible, "unseen": visible}
                try:
                    await self.counters.insert_one({**fresh, "_applied": kept(None, nids)})
                except DuplicateKeyError:
                    continue  # created meanwhile: read it
                return list(range(1, n + 1))
            applied = applied_ids(doc)
            if not set(nids).isdisjoint(applied):
                return None
            result = await self.counters.update_one(
                {"_id": user_id, "seq": doc.get("seq")},
                {"$inc": inc, "$set": {"_applied": kept(doc.get("_applied"), nids)}},
            )
            if result.matched_count:
                base = int(doc.get("seq") or 0)
                return list(range(base + 1, base + n + 1))

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
        new groups by one bulk insert, each existing group by one guarded update; groups
        that have or may reach more than ACTORS_KEPT actors one at a time (`_group_one`)."""
        by_group: dict[str, dict[str, dict[str, Any]]] = {}
        for n in notifications:
            by_group.setdefault(n["group_id"], {}).setdefault(n["_id"], n)
        if not by_group:
            return
        known = {
            d["_id"]: d
            for d in await self.groups.find(
                {"_id": {"$in": list(by_group)}}, projection=["_v", "_applied", "actor_count"]
            )
        }
        fresh = [g for g in by_group if g not in known]
        small = [g for g in fresh if len(_actors_of(by_group[g].values())) <= ACTORS_KEPT]
        if small:
            docs = [_new_group(g, list(by_group[g].values())) for g in small]
            try:
                await self.groups.insert_many(docs)
                fresh = [g for g in fresh if g not in small]
            except DuplicateKeyError:
                pass  # created meanwhile: the guarded updates below skip what is applied
        done = await self._group_known_all(known, by_group)
        for gid in [*fresh, *(g for g in by_group if g in known and g not in done)]:
            await self._group_one(gid, list(by_group[gid].values()))

    async def _group_one(self, gid: str, items: list[dict[str, Any]]) -> None:
        """Apply to group `gid` those of `items` not applied yet: read it, then one write
        guarded by `_v` unchanged; read again if another write came first; create the
        group if there is none."""
        while True:
            doc = await self.groups.find_one({"_id": gid})
            if doc is None:
                actors = None
                if len(_actors_of(items)) > ACTORS_KEPT:
                    actors = await self._actors_past(gid, {"_v": 0}, items)
                try:
                    await self.groups.insert_one(_new_group(gid, items, actors))
                except DuplicateKeyError:
                    continue  # created meanwhile: read it
                return
            applied = applied_ids(doc)
            done = set(applied)
            todo = [n for n in items if n["_id"] not in done]
            if not todo:
                return
            actors = None
            if _many_actors(doc, todo):
                actors = await self._actors_past(gid, doc, todo)
            applying = kept(doc.get("_applied"), [n["_id"] for n in todo])
            update = _group_update(todo, applying, actors)
            result = await self.groups.update_one({"_id": gid, "_v": doc.get("_v")}, update)
            if result.matched_count:
                return

    async def _actors_past(
        self, gid: str, doc: dict[str, Any], items: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """`actors` and `actor_count` of group `doc` once `items` are in, for a group that
        has or may reach more than ACTORS_KEPT actors: the list keeps the latest newcomers,
        and the count is exact through GROUP_ACTORS.

        An actor counts as new when its record there names this batch's notification
        that brought them. The record is written before the group's guarded update and
        never changes, so a retry after a lost race, or a redelivery after a crash, finds
        the same answer, and of two notifications bringing one actor exactly one counts.
        A group's first pass here records the actors its list holds (all it ever had, each
        counted already by the list's length), so those the list later drops stay known.
        """
        window = [str(a) for a in doc.get("actors") or []]
        count = int(doc.get("actor_count", len(window)))
        first: dict[str, str] = {}
        for n in items:
            if n.get("actor_id"):
                first.setdefault(n["actor_id"], n["_id"])
        if "actor_count" not in doc and window:
            await insert_new(self.group_actors, [{"_id": f"{gid}|{a}", "by": ""} for a in window])
        joining = [a for a in first if a not in window]
        await insert_new(
            self.group_actors, [{"_id": f"{gid}|{a}", "by": first[a]} for a in joining]
        )
        records = await find_by_ids(
            self.group_actors, [f"{gid}|{a}" for a in first], projection=["by"]
        )
        # Until the first pass here the list held every actor, and the count was its length.
        counted = set(window) if "actor_count" not in doc else set()
        new = [
            a
            for a, nid in first.items()
            if a not in counted and records.get(f"{gid}|{a}", {}).get("by") == nid
        ]
        # Named in the order they first acted, as `$addToSet` names a small group's.
        return {"actors": (window + new)[-ACTORS_KEPT:], "actor_count": count + len(new)}

    async def _group_known_all(
        self, known: dict[str, dict[str, Any]], by_group: dict[str, dict[str, dict[str, Any]]]
    ) -> set[str]:
        """Apply each group's items to it as read, all in ONE round trip, each write guarded
        by `_v` (counts the ids ever applied, so it changes whenever `_applied` does); the
        groups done. When the store reports some missed, the groups are read again: one
        holding all its ids is done, the others take the general path (guarded by their
        ids, so what did land is not applied twice)."""
        plans: dict[str, list[str]] = {}
        ops = []
        for gid, doc in known.items():
            items = list(by_group[gid].values())
            applied = applied_ids(doc)
            nids = [n["_id"] for n in items]
            if "_v" not in doc or not set(nids).isdisjoint(applied) or _many_actors(doc, items):
                continue
            update = _group_update(items, kept(doc.get("_applied"), nids))
            ops.append(({"_id": gid, "_v": doc["_v"]}, update))
            plans[gid] = nids
        if not ops:
            return set()
        if await self.groups.update_each(ops) == len(ops):
            return set(plans)
        after = await find_by_ids(self.groups, list(plans), projection=["_applied"])
        return {
            gid
            for gid, nids in plans.items()
            if set(nids) <= set(applied_ids(after.get(gid) or {}))
        }

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

    async def items_of(
        self, groups: Sequence[dict[str, Any]], *, per_group: int, unread: bool = False
    ) -> list[dict[str, Any]]:
        """The newest `per_group` shown items of each of `groups` (unread ones only, with
        `unread`), newest first. Groups of a few items are read together in one query;
        each larger one on its own, limited: a popular post's group can hold thousands of
        items, and an inbox page shows a few of each."""
        small = [g["_id"] for g in groups if int(g.get("count", 0)) <= SMALL_GROUP]
        large = [g["_id"] for g in groups if int(g.get("count", 0)) > SMALL_GROUP]
        state = {"read_at": None} if unread else {}
        docs = []
        if small:
            docs += await self.notifications.find(
                {"group_id": {"$in": small}, **VISIBLE, **state}, sort=ITEM_SORT
            )
        for gid in large:
            docs += await self.notifications.find(
                {"group_id": gid, **VISIBLE, **state}, sort=ITEM_SORT, limit=per_group
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

    # read state (readstate.py: each decrement exactly once, even across a crash) -------

    async def mark_one(self, user_id: str, nid: str, now: datetime) -> dict[str, Any] | None:
        """Mark read; the doc as it was before, or None if unknown/not the user's/already."""
        return await self.read_state.mark_one(user_id, nid, now)

    async def mark_group(self, user_id: str, group_id: str, now: datetime) -> int:
        return await self.read_state.mark_group(user_id, group_id, now)

    async def mark_all(self, user_id: str, now: datetime) -> int:
        return await self.read_state.mark_all(user_id, now)

    async def mark_seen(self, user_id: str, now: datetime) -> int:
        return await self.read_state.mark_seen(user_id, now)

    async def group(self, user_id: str, group_id: str) -> dict[str, Any] | None:
        doc = await self.groups.find_one(
            {"_id": group_id, "recipient_id": user_id, "count": {"$gt": 0}}
        )
        return _group_read(doc) if doc else None

    # deletions -------------------------------------------------------------------------

    async def hide_about(self, field: str, value: str) -> int:
        """Hide every notification whose `field` is `value` (a deleted post or item)."""
        return await self.read_state.hide_about(field, value)

    async def hide_in_group(self, group_id: str, keep: list[str] | None = None) -> int:
        """Hide the notifications in a group: all of them (a deleted group), or, with `keep`
        (its members; the group turned private), those about its content to anyone else.
        Invitations, join requests and approvals are about the group itself, told to people
        who are not members yet: a group turning private keeps them."""
        where: dict[str, Any] = {"audience_group_id": group_id}
        if keep is not None:
            where["recipient_id"] = {"$nin": keep}
            where["type"] = {"$nin": list(MEMBERSHIP_TYPES)}
        return await self.read_state.hide_where(where)


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


def _claim_inc(pairs: list[tuple[str, bool]]) -> dict[str, int]:
    """A claim's increments: `seq` by all of `pairs`, `unread`/`unseen` by the visible."""
    visible = sum(1 for _, v in pairs if v)
    if not visible:
        return {"seq": len(pairs)}
    return {"seq": len(pairs), "unread": visible, "unseen": visible}


def _actors_of(items: Iterable[dict[str, Any]]) -> list[str]:
    """The distinct actors of `items`, first seen first."""
    return list(dict.fromkeys(n["actor_id"] for n in items if n.get("actor_id")))


def _many_actors(doc: dict[str, Any], items: list[dict[str, Any]]) -> bool:
    """Whether group `doc` has, or with `items` may have, more than ACTORS_KEPT actors
    (each notification it ever took brought one at most: `_v` counts them)."""
    return "actor_count" in doc or int(doc.get("_v") or 0) + len(items) > ACTORS_KEPT


def _group_update(
    items: list[dict[str, Any]], applied: str, actors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Adding `items` to a group: the same result as adding them one by one, in order;
    `applied` is the group's kept ids afterwards (`kept`); `actors`, for a group with
    many, its `actors` and `actor_count` afterwards (`_actors_past`)."""
    named = _actors_of(items)
    update: dict[str, Any] = {
        # `_v`: how many ids were ever applied, the version the group's writes guard on.
        "$inc": {"count": len(items), "unread": len(items), "_v": len(items)},
        "$set": {"_applied": applied},
        "$max": {
            "latest_at": max(n["created_at"] for n in items),
            "latest_seq": max(n["seq"] for n in items),
        },
    }
    if actors is not None:
        update["$set"] |= actors
    elif named:
        update["$addToSet"] = {"actors": {"$each": named}}
    if named:
        # `$max`, not `$set`: writes to one group land in any order (other partitions).
        update["$max"]["last_actor"] = _last_actor(items)
    return update


def _new_group(
    group_id: str, items: list[dict[str, Any]], actors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A group document as adding `items` one by one to nothing would leave it."""
    named = _actors_of(items)
    doc = {
        "_id": group_id,
        **_group_seed(items[0]),
        "count": len(items),
        "unread": len(items),
        "_v": len(items),
        "latest_at": max(n["created_at"] for n in items),
        "latest_seq": max(n["seq"] for n in items),
        "_applied": kept(None, [n["_id"] for n in items]),
    }
    if actors is not None:
        doc |= actors
    elif named:
        doc["actors"] = named
    if named:
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

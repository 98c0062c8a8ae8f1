"""Inbox use cases: turn candidates into notifications; read and mark them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog

from services.notify.inbox.domain import Candidate, build_notification
from services.notify.inbox.projection import (
    Audiences,
    group_key_of,
    item_key,
    member_key,
    post_key,
    visibility_key,
)
from services.notify.inbox.repository import CLAIM_CHUNK, InboxRepository, shown
from services.notify.preferences.domain import decide
from services.notify.preferences.repository import PreferenceRepository
from services.notify.routing import RoutingQueue, initial_email
from shared.events.envelope import Event, new_event
from shared.events.schemas.notify import NotificationCreated
from shared.ids import new_id

log = structlog.get_logger()


class NotificationNotFound(LookupError):
    """Unknown, or another user's (the same to the caller)."""


class Inbox:
    def __init__(
        self,
        repo: InboxRepository,
        audiences: Audiences,
        prefs: PreferenceRepository,
        *,
        window_seconds: int,
        on_announced: Callable[[list[dict[str, Any]], list[Event]], None],
        on_written: Callable[[list[dict[str, Any]]], None] = lambda docs: None,
        routing: Sequence[RoutingQueue] = (),
    ) -> None:
        self.repo = repo
        self._audiences = audiences
        self._prefs = prefs
        self._window = window_seconds
        self._on_announced = on_announced
        self._on_written = on_written
        self._routing = list(routing)

    async def notify(self, event: Event, candidates: list[Candidate]) -> int:
        """Write one notification per allowed recipient of `event`; idempotent on event id."""
        return await self.notify_all([(event, candidates)])

    async def notify_all(self, items: Sequence[tuple[Event, list[Candidate]]]) -> int:
        """`notify` for many events at once, in order, with the same resulting state.

        Everything the decisions need is read up front (deleted posts and memberships,
        preferences, counters and groups) with a few `$in` queries; the decisions are the
        pure functions; the writes are a handful of bulk operations (see the repository for
        why counting stays exact under redelivery). Safe to repeat after a partial failure.
        """
        per_event = [(event, _firsts(cands)) for event, cands in items]
        per_event = [(event, cands) for event, cands in per_event if cands]
        if not per_event:
            return 0
        facts = await self._audiences.lookup(_audience_ids(cands for _, cands in per_event))
        # An earlier delivery of a late event (written before its group turned private or
        # was deleted) may have left notifications the check after writing never saw.
        await self._withdraw(*_changed_groups([cands for _, cands in per_event], facts))
        per_event = [(event, _placed(cands, facts)) for event, cands in per_event]
        await self._hide_tombstoned([c for _, cands in per_event for c in cands], facts)
        allowed = [(e, c) for e, cands in per_event for c in _visible_to(cands, facts)]
        if not allowed:
            return 0
        prefs = await self._prefs.many(sorted({c.recipient_id for _, c in allowed}))
        org = await self._prefs.org()
        now, created = datetime.now(UTC), _now()
        docs: dict[str, dict[str, Any]] = {}
        for event, c in allowed:
            doc = build_notification(
                c,
                event_id=event.id,
                at=event.time.astimezone(UTC),
                now=created,
                window_seconds=self._window,
            )
            if doc["_id"] in docs:  # the same event twice in one batch
                continue
            delivery = decide(prefs.get(c.recipient_id), org, doc, now)
            if not (delivery.in_app or delivery.email != "off" or delivery.push != "off"):
                log.info("notify.notification.suppressed", type=c.type)
                continue
            doc["in_app"] = delivery.in_app
            doc["channels"] = {
                "email": initial_email(delivery.email, prefs.get(c.recipient_id)),
                "push": delivery.push,
                "email_at": delivery.email_at,
                "push_at": delivery.push_at,
            }
            docs[doc["_id"]] = doc
        written = await self._write(list(docs.values()))
        await self._hide_deleted(written)
        return len(written)

    async def _hide_tombstoned(self, cands: list[Candidate], facts: set[str]) -> None:
        """Hide what an earlier delivery of these events may have left about deleted things.

        Such a delivery wrote its notification and died before `_hide_deleted`; the
        deletion, handled on another partition meanwhile, found nothing to hide yet. Its
        redelivery drops the candidate (the tombstone), so it hides here instead. Idempotent,
        and only when a tombstone is there (rare): nothing to do otherwise.
        """
        posts = {c.post_id for c in cands if c.post_id and post_key(c.post_id) in facts}
        items = {c.item_id for c in cands if c.item_id and item_key(c.item_id) in facts}
        await self._hide_about(posts, items)

    async def _hide_deleted(self, written: list[dict[str, Any]]) -> None:
        """A delete handled meanwhile (another partition: a post, or an answer someone
        reacted to) may have scanned before our insert: it writes its tombstone first, so
        looking for tombstones again after writing closes the race."""
        posts = {d["post_id"] for d in written if d.get("post_id")}
        items = {d["item_id"] for d in written if d.get("item_id")}
        if posts or items:
            await self._hide_about(*await self._audiences.deleted(posts, items))
        # Likewise a group deleted or turned private meanwhile: it records that first, then
        # hides what is there.
        groups = {d["audience_group_id"] for d in written if d.get("audience_group_id")}
        if not groups:
            return
        public = {g for d in written if (g := d.get("audience_group_id")) and not d["private"]}
        facts = await self._audiences.lookup(
            {visibility_key(g) for g in public} | {group_key_of(g) for g in groups}
        )
        deleted = {g for g in groups if group_key_of(g) in facts}
        await self._withdraw(deleted, {g for g in public if visibility_key(g) in facts})

    async def _withdraw(self, deleted: set[str], turned: set[str]) -> None:
        """Hide what deleted groups' notifications said to anyone, and what groups turned
        private said to non-members (both idempotent)."""
        for group_id in sorted(deleted):
            await self.repo.hide_in_group(group_id)
        for group_id in sorted(turned - deleted):
            await self.repo.hide_in_group(group_id, keep=await self._audiences.members(group_id))

    async def _hide_about(self, posts: set[str], items: set[str]) -> None:
        """Hide every notification about these deleted posts and items (idempotent)."""
        for post_id in sorted(posts):
            await self.repo.hide_about("post_id", post_id)
        for item_id in sorted(items):
            await self.repo.hide_about("item_id", item_id)

    async def _write(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Count, group and insert `docs`, then announce and route them; the ones inserted
        now (not before).

        What is stored already (a redelivery whose first delivery got that far) is counted
        and grouped: it is only announced and routed again. Looking first costs one `$in`
        read, which finds nothing on a first delivery. Because of it, the counters' and
        groups' dedupe (`_applied`, the last `APPLIED_CAP` ids) only has to cover the
        notifications a crash left counted but not stored: at most one chunk, and a chunk
        holds at most `CLAIM_CHUNK` notifications per recipient (so a group's too), whatever
        the batch size. Batches of `INBOX_BATCH` events are then safe to take.
        """
        if not docs:
            return []
        stored = await self.repo.existing([d["_id"] for d in docs])
        written: list[dict[str, Any]] = []
        for chunk in _chunks([d for d in docs if d["_id"] not in stored], CLAIM_CHUNK):
            now_written, found = await self._count_and_insert(chunk)
            written += now_written
            stored |= found
        # Then their events, as outbox records: one small insert per batch instead of a
        # rewrite of each notification when its own outbox is cleared. Killed before this
        # write, the redelivery finds them stored and announces them again: the same event
        # ids (stored with them), which consumers drop.
        announced = [*written, *stored.values()]
        if announced:
            events = [_created(d) for d in announced]
            self._on_announced(await self.repo.announce(events), events)
        # Then the channels' routing queues (same reasoning: a redelivery queues the stored
        # ones again, and routing one twice queues its mail or push once).
        for queue in self._routing:
            await queue.add(announced)
        if written:  # this replica's stream clients need not wait for a poll
            self._on_written(written)
        for doc in written:
            log.info(
                "notify.notification.created",
                notification_id=doc["_id"],
                type=doc["type"],
                seq=doc["seq"],
            )
        return written

    async def _count_and_insert(
        self, docs: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Count, group and insert `docs`: (the ones inserted now, the ones found stored)."""
        wants: dict[str, list[tuple[str, bool]]] = {}
        for doc in docs:
            wants.setdefault(doc["recipient_id"], []).append((doc["_id"], doc["in_app"]))
        seqs = await self.repo.claim_all(wants)
        counted_before = [d for d in docs if d["_id"] not in seqs]
        regroup: list[dict[str, Any]] = []
        existing: dict[str, dict[str, Any]] = {}
        if counted_before:  # a crash between counting and storing, or a concurrent writer
            existing = await self.repo.existing([d["_id"] for d in counted_before])
            regroup = [e for e in existing.values() if e.get("in_app", True)]
            missing: dict[str, list[str]] = {}
            for doc in counted_before:
                if doc["_id"] not in existing:
                    missing.setdefault(doc["recipient_id"], []).append(doc["_id"])
            for user, nids in missing.items():
                seqs.update(zip(nids, await self.repo.reserve_seqs(user, len(nids)), strict=True))
        fresh = [d for d in docs if d["_id"] in seqs]
        # Stamped just before the insert: replicas tail by `created_at` with a short overlap,
        # so a stamp taken before slow counter writes could land behind their window.
        stamp = _now()
        for doc in fresh:
            doc["seq"] = seqs[doc["_id"]]
            doc["created_at"] = stamp
            doc["created_event_id"] = new_id()
        # The group first, then the notification: whoever finds the notification (a mark
        # read, a delete hiding it) then finds its group too, so their decrements always
        # land. (Written the other way, or both at once, a decrement could reach a group not
        # created yet and be lost: a phantom or wrong unread count for good.) Both writes
        # are idempotent by notification id, so a redelivery finishes either.
        await self.repo.group_all([*regroup, *(d for d in fresh if d["in_app"])])
        inserted = set(await self.repo.insert_all(fresh))
        skipped = [d["_id"] for d in fresh if d["_id"] not in inserted]
        if skipped:  # stored meanwhile by a concurrent writer
            existing |= await self.repo.existing(skipped)
        return [d for d in fresh if d["_id"] in inserted], existing

    # inbox reads and read state ---------------------------------------------------------

    async def mark_one(self, user_id: str, nid: str) -> None:
        if await self.repo.mark_one(user_id, nid, _now()) is None:
            doc = await self.repo.get(nid)
            if doc is None or doc["recipient_id"] != user_id or not shown(doc):
                raise NotificationNotFound(nid)
        log.info("notify.notification.read", notification_id=nid)

    async def mark_group(self, user_id: str, group_id: str) -> int:
        if await self.repo.group(user_id, group_id) is None:
            raise NotificationNotFound(group_id)
        return await self.repo.mark_group(user_id, group_id, _now())

    async def mark_all(self, user_id: str) -> int:
        return await self.repo.mark_all(user_id, _now())

    async def mark_seen(self, user_id: str) -> int:
        return await self.repo.mark_seen(user_id, _now())

    async def get(self, user_id: str, nid: str) -> dict[str, Any]:
        doc = await self.repo.get(nid)
        if doc is None or doc["recipient_id"] != user_id or not shown(doc):
            raise NotificationNotFound(nid)
        return doc


def _firsts(candidates: list[Candidate]) -> list[Candidate]:
    """Drop the actor and repeats (first reason wins)."""
    firsts: dict[str, Candidate] = {}
    for c in candidates:
        if c.recipient_id and c.recipient_id != c.actor_id:
            firsts.setdefault(c.recipient_id, c)
    return list(firsts.values())


def _audience_ids(per_event: Iterable[list[Candidate]]) -> set[str]:
    """The `audiences` ids that decide who may see these events' notifications."""
    ids: set[str] = set()
    for cands in per_event:
        sample = cands[0]
        if sample.post_id:
            ids.add(post_key(sample.post_id))
        ids.update(item_key(c.item_id) for c in cands if c.item_id)
        group = sample.placement.group_id
        if group:
            ids.update((visibility_key(group), group_key_of(group)))
        # Gated by what the event says or, if the group turned private since, by that.
        gated = [c.recipient_id for c in cands if c.needs_membership]
        if gated and group:
            ids.update(member_key(group, u) for u in gated)
    return ids


def _changed_groups(per_event: list[list[Candidate]], facts: set[str]) -> tuple[set[str], set[str]]:
    """Groups of these events that were deleted, and those that turned private while the
    event said public: what an earlier delivery may have told too many people."""
    deleted, turned = set(), set()
    for cands in per_event:
        where = cands[0].placement
        if not where.group_id:
            continue
        if group_key_of(where.group_id) in facts:
            deleted.add(where.group_id)
        elif not where.private and visibility_key(where.group_id) in facts:
            turned.add(where.group_id)
    return deleted, turned


def _placed(cands: list[Candidate], facts: set[str]) -> list[Candidate]:
    """The candidates as private if their group turned private after the event was
    written (handled late, on another partition): gated, and worded, as private."""
    group = cands[0].placement.group_id
    if not group or visibility_key(group) not in facts:
        return cands
    private = replace(cands[0].placement, audience="group", group_visibility="private")
    return [replace(c, placement=private) for c in cands]


def _visible_to(cands: list[Candidate], facts: set[str]) -> list[Candidate]:
    """Who of `cands` may hear of it: nobody about a deleted post, item or group; private
    content only to active members (`facts`: the audiences ids that hold)."""
    sample = cands[0]
    if sample.post_id and post_key(sample.post_id) in facts:
        return []
    group = sample.placement.group_id

    def member(c: Candidate) -> bool:
        if group and group_key_of(group) in facts:
            return False  # a deleted group: nothing in it, or about it, is told any more
        if not (c.needs_membership and c.placement.private):
            return True
        if not group:
            return False
        return c.verified_member or member_key(group, c.recipient_id) in facts

    def gone(c: Candidate) -> bool:
        return c.item_id is not None and item_key(c.item_id) in facts

    return [c for c in cands if not gone(c) and member(c)]


def _created(doc: dict[str, Any]) -> Event:
    """The notification's `created` event; the same event (id and time) each time it is
    built from the same stored notification, so announcing it again repeats it."""
    at = doc["created_at"]
    at = at if at.tzinfo else at.replace(tzinfo=UTC)  # as read back from some stores
    # Stored before `created_event_id` existed: derived from the notification id, stable too.
    event_id = doc.get("created_event_id") or str(uuid.uuid5(uuid.NAMESPACE_URL, doc["_id"]))
    return new_event(
        NotificationCreated(
            id=doc["_id"],
            recipient_id=doc["recipient_id"],
            type=doc["type"],
            actor_id=doc["actor_id"],
            target_type=doc["target"]["type"],
            target_id=doc["target"]["id"],
            group_id=doc["group_id"],
            seq=doc["seq"],
            critical=doc["critical"],
            private=doc["private"],
            in_app=doc["in_app"],
            created_at=at,
        ),
        event_id=event_id,
        at=at,
    )


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _chunks(docs: list[dict[str, Any]], cap: int) -> Iterator[list[dict[str, Any]]]:
    """`docs` in order, cut wherever one more would give a recipient over `cap` in a chunk
    (one chunk unless someone gets more than `cap` notifications from one batch)."""
    chunk: list[dict[str, Any]] = []
    per_recipient: dict[str, int] = {}
    for doc in docs:
        if per_recipient.get(doc["recipient_id"], 0) == cap:
            yield chunk
            chunk, per_recipient = [], {}
        chunk.append(doc)
        per_recipient[doc["recipient_id"]] = per_recipient.get(doc["recipient_id"], 0) + 1
    if chunk:
        yield chunk

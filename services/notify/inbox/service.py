"""Inbox use cases: turn candidates into notifications; read and mark them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.notify.inbox.domain import Candidate, build_notification
from services.notify.inbox.projection import Audiences
from services.notify.inbox.repository import InboxRepository
from services.notify.preferences.domain import decide
from services.notify.preferences.repository import PreferenceRepository
from shared.events.envelope import Event, new_event
from shared.events.schemas.notify import NotificationCreated

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
        on_events: Callable[[], None],
        on_created: Callable[[], None] = lambda: None,
    ) -> None:
        self.repo = repo
        self._audiences = audiences
        self._prefs = prefs
        self._window = window_seconds
        self._on_events = on_events
        self.on_created = on_created

    async def notify(self, event: Event, candidates: list[Candidate]) -> int:
        """Write one notification per allowed recipient of `event`; idempotent on event id."""
        allowed = await self._allowed(candidates)
        if not allowed:
            return 0
        prefs = await self._prefs.many([c.recipient_id for c in allowed])
        org = await self._prefs.org()
        now = datetime.now(UTC)
        written = 0
        for c in allowed:
            written += await self._one(event, c, prefs.get(c.recipient_id), org, now)
        post_id = allowed[0].post_id
        # A delete handled meanwhile (another partition) may have scanned before our insert:
        # it flags the post first, so checking again after writing closes the race.
        if written and post_id and await self._audiences.post_deleted(post_id):
            await self.repo.hide_about("post_id", post_id)
        return written

    async def _allowed(self, candidates: list[Candidate]) -> list[Candidate]:
        """Drop the actor, repeats (first reason wins), and people who cannot see it."""
        firsts: dict[str, Candidate] = {}
        for c in candidates:
            if c.recipient_id and c.recipient_id != c.actor_id:
                firsts.setdefault(c.recipient_id, c)
        if not firsts:
            return []
        sample = next(iter(firsts.values()))
        if await self._audiences.post_deleted(sample.post_id):
            return []
        out = list(firsts.values())
        gated = [c for c in out if c.needs_membership and c.placement.private]
        if gated and sample.placement.group_id:
            members = await self._audiences.members_among(
                sample.placement.group_id, [c.recipient_id for c in gated]
            )
            out = [
                c
                for c in out
                if not (c.needs_membership and c.placement.private) or c.recipient_id in members
            ]
        return out

    async def _one(
        self,
        event: Event,
        c: Candidate,
        prefs: dict[str, Any] | None,
        org: dict[str, Any] | None,
        now: datetime,
    ) -> int:
        doc = build_notification(
            c,
            event_id=event.id,
            at=event.time.astimezone(UTC),
            now=_now(),
            window_seconds=self._window,
        )
        delivery = decide(prefs, org, doc, now)
        if not (delivery.in_app or delivery.email != "off" or delivery.push != "off"):
            log.info("notify.notification.suppressed", type=c.type)
            return 0
        visible = delivery.in_app
        doc["in_app"] = visible
        doc["channels"] = {
            "email": delivery.email,
            "push": delivery.push,
            "email_at": delivery.email_at,
            "push_at": delivery.push_at,
        }
        seq = await self.repo.claim(c.recipient_id, doc["_id"], visible=visible)
        if seq is None:  # counted before: a redelivery, maybe after a crash mid-way
            existing = await self.repo.get(doc["_id"])
            if existing is not None:
                if existing.get("in_app", True):
                    await self.repo.group_in(existing)
                return 0
            seq = await self.repo.reserve_seq(c.recipient_id)
        doc["seq"] = seq
        inserted = await self.repo.insert(doc, [_created(doc)])
        if visible:
            await self.repo.group_in(doc)
        if not inserted:
            return 0
        self._on_events()
        self.on_created()
        log.info(
            "notify.notification.created", notification_id=doc["_id"], type=doc["type"], seq=seq
        )
        return 1

    # inbox reads and read state ---------------------------------------------------------

    async def mark_one(self, user_id: str, nid: str) -> None:
        if await self.repo.mark_one(user_id, nid, _now()) is None:
            doc = await self.repo.get(nid)
            if (
                doc is None
                or doc["recipient_id"] != user_id
                or doc.get("hidden")
                or not doc.get("in_app", True)
            ):
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
        if (
            doc is None
            or doc["recipient_id"] != user_id
            or doc.get("hidden")
            or not doc.get("in_app", True)
        ):
            raise NotificationNotFound(nid)
        return doc


def _created(doc: dict[str, Any]) -> Event:
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
            created_at=doc["created_at"],
        )
    )


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)

"""Digests: at the configured local hour, each person who wants one gets what they missed.

Contents (all from this service's own data, no call-backs):
- unread notifications routed to the digest (`channels.email: digest`) since the last one;
- the most active recent posts in topics they follow (`digest_posts`, public content only);
- open (unaccepted) questions in their expertise topics.
An empty digest is not sent. `digests_sent` records each period (sent or empty) and gives
the next digest its start; the mail's id `d:<user>:<period>` makes queuing idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from services.notify.email.compose import Composer, DigestContent, message_id
from services.notify.email.content import safe_text
from services.notify.email.outbox import EmailOutbox
from services.notify.email.projections import DigestProjections
from services.notify.email.schedule import PERIOD_LENGTH, current_period, due_period
from services.notify.preferences.domain import address_of, digest_of, zone_of
from services.notify.preferences.repository import (
    DIRECTORY_EMAIL,
    PREFERENCES,
    PreferenceRepository,
)
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

log = structlog.get_logger()
DIGESTS_SENT = "digests_sent"
NOTIFICATIONS = "notifications"
TICK_SECONDS = 30.0
PAGE = 200
MAX_ITEMS = 10


@dataclass(frozen=True)
class SentNow:
    user_id: str
    period: str | None
    result: str  # queued, already sent, nothing to send, digests off, no email address


class DigestScheduler:
    def __init__(
        self,
        store: DocumentStore,
        outbox: EmailOutbox,
        prefs: PreferenceRepository,
        projections: DigestProjections,
        composer: Composer,
        *,
        hour: int,
        base_url: str,
    ) -> None:
        self._people = store.collection(PREFERENCES)
        self._sent = store.collection(DIGESTS_SENT)
        self._notifications = store.collection(NOTIFICATIONS)
        self._outbox = outbox
        self._prefs = prefs
        self._projections = projections
        self._composer = composer
        self._hour = hour
        self._base = base_url

    async def prepare(self) -> None:
        await self._sent.create_index([("user_id", 1), ("at", -1)])
        await self._notifications.create_index(
            [("recipient_id", 1), ("channels.email", 1), ("created_at", -1)]
        )

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("notify.email.digest_tick_failed")
            await asyncio.sleep(TICK_SECONDS)

    async def tick(self, now: datetime | None = None) -> int:
        """Queue every digest due at `now`; return how many were queued."""
        now = now or datetime.now(UTC)
        org = await self._prefs.org()
        queued, after = 0, None
        while True:
            people = await self._people.find(
                {"$or": [{"email_address": {"$ne": None}}, {DIRECTORY_EMAIL: {"$ne": None}}]},
                sort=[("_id", 1)],
                limit=PAGE,
                after=after,
            )
            for prefs in people:
                queued += await self._one(prefs, org, now)
            if len(people) < PAGE:
                return queued
            after = {"_id": people[-1]["_id"]}

    async def _one(self, prefs: dict[str, Any], org: dict[str, Any] | None, now: datetime) -> int:
        frequency = digest_of(prefs, org)
        period = due_period(frequency, now, zone_of(prefs), self._hour)
        if period is None or not address_of(prefs):
            return 0
        return int(await self._send(prefs, frequency, period, now, record_empty=True) == "queued")

    async def send_now(self, user_id: str, now: datetime | None = None) -> SentNow:
        """Queue `user_id`'s digest for the current period now, before its hour (an admin's
        "send it now"). The period's scheduled digest is then not sent again; an empty one
        is not recorded, so the scheduled one still goes out if something arrives."""
        now = now or datetime.now(UTC)
        prefs = await self._people.find_one({"_id": user_id})
        if prefs is None or not address_of(prefs):
            return SentNow(user_id, None, "no email address")
        frequency = digest_of(prefs, await self._prefs.org())
        period = current_period(frequency, now, zone_of(prefs))
        if period is None:
            return SentNow(user_id, None, "digests off")
        return SentNow(user_id, period, await self._send(prefs, frequency, period, now))

    async def _send(
        self,
        prefs: dict[str, Any],
        frequency: str,
        period: str,
        now: datetime,
        *,
        record_empty: bool = False,
    ) -> str:
        """'queued', 'already sent' (this period) or 'nothing to send'."""
        user_id = prefs["_id"]
        record_id = f"{user_id}:{period}"
        if await self._sent.find_one({"_id": record_id}) is not None:
            return "already sent"
        content = await self.content(user_id, frequency, now)
        if content.empty and not record_empty:
            return "nothing to send"
        mail_id = f"d:{record_id}"
        queued = False
        address = address_of(prefs)
        if not content.empty and address:
            message = self._composer.digest(
                user_id, content, to=address, message_id=message_id(mail_id)
            )
            queued = await self._outbox.enqueue(
                mail_id,
                kind="digest",
                user_id=user_id,
                to=address,
                message=message.as_string(),
                not_before=now,
                now=now,
            )
        with contextlib.suppress(DuplicateKeyError):
            await self._sent.insert_one(
                {
                    "_id": record_id,
                    "user_id": user_id,
                    "period": period,
                    "at": now,
                    "empty": content.empty,
                }
            )
        log.info("notify.email.digest", user_id=user_id, period=period, empty=content.empty)
        if queued:
            return "queued"
        return "nothing to send" if content.empty else "already sent"

    async def content(self, user_id: str, frequency: str, now: datetime) -> DigestContent:
        last = await self._sent.find_one(
            {"user_id": user_id, "at": {"$lt": now}}, sort=[("at", -1), ("_id", -1)]
        )
        since = last["at"] if last else now - PERIOD_LENGTH[frequency]
        unread = {
            "recipient_id": user_id,
            "channels.email": "digest",
            "read_at": None,
            "hidden": {"$ne": True},
            "created_at": {"$gt": since, "$lte": now},
        }
        docs = await self._notifications.find(
            unread, sort=[("created_at", -1), ("_id", -1)], limit=MAX_ITEMS
        )
        total = await self._notifications.count(unread) if len(docs) == MAX_ITEMS else len(docs)
        posts = await self._projections.top_posts(
            await self._projections.followed_topics(user_id),
            since=since,
            until=now,
            exclude_author=user_id,
        )
        questions = await self._projections.top_posts(
            await self._projections.expertise_topics(user_id),
            since=since,
            until=now,
            exclude_author=user_id,
            questions_only=True,
        )
        return DigestContent(
            frequency=frequency,
            notifications=[safe_text(d, self._base) for d in docs],
            unread_total=total,
            posts=posts,
            questions=questions,
        )

"""Immediate email: find new notifications, ask `decide`, queue the ones that go out now.

The notification's `channels.email` field is the email feature's bookmark: absent,
`pending` or `now` (the inbox's decision at creation) means not handled yet; this job
decides again with the preferences of the moment and moves it (compare-and-set, so replicas never
both take one) to `queued` (in `email_outbox`, possibly waiting for quiet hours to end),
`digest` (left for the next digest), `off`, or `no_address`. The mail is queued before
the bookmark moves: a crash in between re-queues under the same id, which is a no-op.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog

from services.notify.email.compose import Composer, message_id
from services.notify.email.outbox import EmailOutbox
from services.notify.preferences.domain import decide
from services.notify.preferences.repository import PreferenceRepository
from services.notify.routing import (
    EMAIL_UNSEEN,
    IdlePause,
    prepare_routing,
    route_batch,
    unrouted_field,
)
from shared.store.port import DocumentStore

log = structlog.get_logger()
NOTIFICATIONS = "notifications"
BATCH = 100


class ImmediateIntake:
    def __init__(
        self,
        store: DocumentStore,
        outbox: EmailOutbox,
        prefs: PreferenceRepository,
        composer: Composer,
    ) -> None:
        self._notifications = store.collection(NOTIFICATIONS)
        self._outbox = outbox
        self._prefs = prefs
        self._composer = composer

    async def prepare(self) -> None:
        await prepare_routing(self._notifications, "email")

    async def run(self) -> None:
        pause = IdlePause()
        while True:
            try:
                handled = await self.scan()
            except Exception:
                log.exception("notify.email.intake_failed")
                handled = 0
            if wait := pause.after(found=handled > 0, more=handled == BATCH):
                await asyncio.sleep(wait)

    async def scan(self, now: datetime | None = None) -> int:
        """Route one batch of new notifications; return how many were looked at.

        One preferences read for the batch, and one bookmark write per resulting state (not
        per notification): the notifications collection is the busiest one."""
        return await route_batch(
            self._notifications,
            self._prefs,
            channel="email",
            decide=self._decide,
            limit=BATCH,
            now=now,
        )

    async def route(self, notification: dict[str, Any], now: datetime) -> str:
        """Route one notification (what `scan` does for each of a batch)."""
        prefs = await self._prefs.get(notification["recipient_id"])
        state = await self._decide(notification, prefs, await self._prefs.org(), now)
        await self._notifications.update_one(
            {"_id": notification["_id"], "channels.email": {"$in": EMAIL_UNSEEN}},
            {"$set": {"channels.email": state, unrouted_field("email"): state in EMAIL_UNSEEN}},
        )
        return state

    async def _decide(
        self,
        notification: dict[str, Any],
        prefs: dict[str, Any] | None,
        org: dict[str, Any] | None,
        now: datetime | None,
    ) -> str:
        """The email state of `notification`, queueing the mail when it goes out now."""
        now = now or datetime.now(UTC)
        user_id = notification["recipient_id"]
        delivery = decide(prefs, org, notification, now)
        state: str = delivery.email
        address = (prefs or {}).get("email_address")
        if state == "now":
            if not address:
                state = "no_address"
            else:
                mail_id = f"n:{notification['_id']}"
                message = self._composer.immediate(
                    notification, to=address, message_id=message_id(mail_id)
                )
                await self._outbox.enqueue(
                    mail_id,
                    kind="immediate",
                    user_id=user_id,
                    about=notification["_id"],
                    to=address,
                    message=message.as_string(),
                    not_before=delivery.email_at or now,
                    now=now,
                )
                state = "queued"
        log.info(
            "notify.email.routed",
            notification_id=notification["_id"],
            state=state,
            deferred=delivery.email_at is not None,
        )
        return state

"""Immediate email: take queued notifications, ask `decide`, queue the mails that go out.

The inbox queues a notification for email (`email_routing`, see `services/notify/routing.py`)
when it decided `now` for someone with an address. This job decides again with the
preferences of the moment: `queued` (in `email_outbox` under the notification's id,
possibly waiting for quiet hours to end), `digest` (written back to the notification, where
the next digest looks), `off` or `no_address`. The mail is queued before the entry is
deleted: a crash in between, or two replicas taking the same entry, queue it under the same
id, which is a no-op.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog

from services.notify.email.compose import Composer, message_id
from services.notify.email.outbox import EmailOutbox
from services.notify.preferences.domain import address_of, decide
from services.notify.preferences.repository import PreferenceRepository
from services.notify.routing import IdlePause, RoutingQueue, migrate_flags, route_batch
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
        self._store = store
        self._notifications = store.collection(NOTIFICATIONS)
        self._queue = RoutingQueue(store, "email")
        self._outbox = outbox
        self._prefs = prefs
        self._composer = composer

    async def prepare(self) -> None:
        await migrate_flags(self._store, "email")

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
        """Route one batch of queued notifications; return how many were taken."""
        return await route_batch(
            self._queue,
            self._notifications,
            self._prefs,
            decide=self._decide,
            limit=BATCH,
            now=now,
        )

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
        address = address_of(prefs)
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

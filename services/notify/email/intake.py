"""Immediate email: take queued notifications, ask `decide`, queue the mails that go out.

The inbox queues a notification for email (`email_routing`, see `services/notify/routing.py`)
when it decided `now` for someone with an address. This job decides again with the
preferences of the moment: `queued` (in `email_outbox` under the notification's id,
possibly waiting for quiet hours to end), `digest` (written back to the notification, where
the next digest looks), `off` or `no_address`. The mail is queued before the entry is
deleted: a crash in between, or two replicas taking the same entry, queue it under the same
id, which is a no-op.

A notification for someone without an address is written `no_address` and not queued. When
the directory then gives the person an address (`address_known`), their notifications of the
last `LATE_ADDRESS_WINDOW` still in that state are queued after all: a joiner @mentioned
seconds after being provisioned gets that mail, although the mention and the person event
reach notify through different consumer groups, in either order.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
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
# How late an address may arrive and still bring a notification's "immediate" email: an
# hour-old mention mailed as new is noise (the digest and the inbox have it).
LATE_ADDRESS_WINDOW = timedelta(minutes=10)


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

    async def address_known(self, user_id: str, now: datetime | None = None) -> int:
        """Queue `user_id`'s recent notifications written `no_address`; how many.

        Queued before they are marked `now`, and only those still `no_address` are marked:
        a crash in between leaves them to the next person event (queueing is idempotent,
        and so is the mail), and an outcome the worker wrote back meanwhile (`digest`) stays.
        """
        now = now or datetime.now(UTC)
        late = await self._notifications.find(
            {
                "recipient_id": user_id,
                "created_at": {"$gte": now - LATE_ADDRESS_WINDOW},
                "channels.email": "no_address",
            },
            projection=["_id", "recipient_id"],
        )
        if not late:
            return 0
        await self._queue.insert({"_id": n["_id"], "recipient_id": user_id} for n in late)
        await self._notifications.update_many(
            {"_id": {"$in": [n["_id"] for n in late]}, "channels.email": "no_address"},
            {"$set": {"channels.email": "now"}},
        )
        log.info("notify.email.late_address", user_id=user_id, queued=len(late))
        return len(late)

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

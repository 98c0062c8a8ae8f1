"""Mail and push senders finish only under their own lease.

A sender whose lease expired (a slow SMTP server, a paused process) may still report; by
then another sender has claimed the item. The late report must not undo the other's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notify.email.outbox import LEASE, EmailOutbox
from services.notify.push.repository import PushQueue
from shared.settings import CanteenSettings
from tests.support import service_store

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LATER = T0 + LEASE + timedelta(seconds=1)


async def test_a_late_failure_does_not_requeue_a_mail_another_sender_sent(
    settings: CanteenSettings,
) -> None:
    async with service_store(settings, "notify-leases") as store:
        outbox = EmailOutbox(store)
        await outbox.prepare()
        assert await outbox.enqueue(
            "n:1", kind="immediate", user_id="ana", to="ana@example.org", message="m",
            not_before=T0, now=T0,
        )  # fmt: skip
        slow = await outbox.claim(T0)
        assert slow is not None
        assert await outbox.claim(T0 + timedelta(seconds=1)) is None  # leased
        other = await outbox.claim(LATER)  # the lease expired: another sender takes it
        assert other is not None and other["_id"] == "n:1"
        await outbox.failed(slow, "timed out", LATER)  # the slow sender's late report
        await outbox.sent(other, LATER)
        mail = await outbox.get("n:1")
        assert mail is not None
        assert (mail["state"], mail["attempts"]) == ("sent", 1)
        assert await outbox.claim(LATER + timedelta(days=1)) is None


async def test_a_late_push_result_does_not_overwrite_the_current_senders(
    settings: CanteenSettings,
) -> None:
    async with service_store(settings, "notify-leases") as store:
        queue = PushQueue(store)
        await queue.prepare()
        await queue.enqueue(
            {
                "_id": "n:2", "user_id": "ana", "payload": "{}", "state": "pending",
                "attempts": 0, "next_attempt_at": T0, "lease_until": None, "delivered": [],
                "created_at": T0,
            }
        )  # fmt: skip
        slow = await queue.claim(T0)
        other = await queue.claim(LATER)
        assert slow is not None and other is not None
        await queue.finish(slow, delivered=[], retry=True, now=LATER)  # late, lease lost
        await queue.finish(other, delivered=["d1", "d2"], retry=False, now=LATER)
        assert await queue.claim(LATER + timedelta(days=1)) is None

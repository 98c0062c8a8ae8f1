"""Mail and push senders finish only under their own lease; the mail sender waits out an
unreachable server.

A sender whose lease expired (a slow SMTP server, a paused process) may still report; by
then another sender has claimed the item. The late report must not undo the other's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from aiosmtpd.controller import Controller

from bench.stack import free_port
from services.notify.email.outbox import LEASE, EmailOutbox
from services.notify.email.sender import SendWorker, SmtpMailer
from services.notify.push.repository import PushQueue
from shared.settings import CanteenSettings
from tests.notify.test_email_support import Sink
from tests.support import service_store

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LATER = T0 + LEASE + timedelta(seconds=1)
MESSAGE = "From: c@example.org\r\nTo: ana@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


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


async def test_an_unreachable_server_is_waited_out_without_using_up_attempts(
    settings: CanteenSettings,
) -> None:
    """Nothing listens on the SMTP port: one mail is tried, then the sender pauses (2 s,
    doubling) instead of trying every due mail; no attempt is counted, one warning is
    logged for the outage. Once the server is up, the next probe sends and the rest
    follow at once."""
    port = free_port()
    async with service_store(settings, "notify-unreachable") as store:
        outbox = EmailOutbox(store)
        await outbox.prepare()
        for n in range(3):
            assert await outbox.enqueue(
                f"n:{n}", kind="immediate", user_id="ana", to="ana@example.org",
                message=MESSAGE,
                not_before=T0, now=T0,
            )  # fmt: skip
        worker = SendWorker(outbox, SmtpMailer("127.0.0.1", port, timeout=5))
        with structlog.testing.capture_logs() as logs:
            assert await worker.send_due(T0) is True  # tried one: refused
            assert await worker.send_due(T0 + timedelta(seconds=1)) is False  # paused
            assert await worker.send_due(T0 + timedelta(seconds=3)) is True  # probe: refused
            assert await worker.send_due(T0 + timedelta(seconds=6)) is False  # 4 s now
        mails = [await outbox.get(f"n:{n}") for n in range(3)]
        assert all(m is not None and m["state"] == "pending" for m in mails)
        assert [m["attempts"] for m in mails if m] == [0, 0, 0]
        assert sum(1 for m in mails if m and m["last_error"]) == 2  # two different probes
        warned = [e for e in logs if e["log_level"] == "warning"]
        assert [e["event"] for e in warned] == ["notify.email.server_unreachable"]

        sink = Sink()
        server = Controller(sink, hostname="127.0.0.1", port=port)
        server.start()
        try:
            assert await worker.send_due(T0 + timedelta(seconds=8)) is True  # back: sent
            assert await worker.send_due(T0 + timedelta(seconds=8)) is True  # no pause now
            assert await worker.send_due(T0 + timedelta(seconds=8)) is True
            assert await worker.send_due(T0 + timedelta(seconds=8)) is False  # none left
        finally:
            server.stop()
        assert len(sink.messages) == 3
        sent = [await outbox.get(f"n:{n}") for n in range(3)]
        assert [(m["state"], m["attempts"]) for m in sent if m] == [("sent", 1)] * 3

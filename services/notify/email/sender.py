"""Sending: the `Mailer` port, its SMTP adapter, and the worker draining `email_outbox`."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from email.parser import Parser
from email.policy import SMTP as SMTP_POLICY

import aiosmtplib
import structlog

from services.notify.email.outbox import EmailOutbox
from services.notify.routing import IdlePause

log = structlog.get_logger()


class Mailer(ABC):
    @abstractmethod
    async def send(self, to: str, message: str) -> None:
        """Hand one RFC 5322 message to the mail system; raise on any refusal."""


class SmtpMailer(Mailer):
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        timeout: float = 30,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._timeout = timeout

    async def send(self, to: str, message: str) -> None:
        parsed = Parser(policy=SMTP_POLICY).parsestr(message)
        await aiosmtplib.send(
            parsed,
            recipients=[to],
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._start_tls,
            timeout=self._timeout,
        )


class SendWorker:
    """Drains due mails one at a time; a failure reschedules, never drops."""

    def __init__(self, outbox: EmailOutbox, mailer: Mailer) -> None:
        self._outbox = outbox
        self._mailer = mailer

    async def run(self) -> None:
        pause = IdlePause()
        while True:
            try:
                busy = await self.send_due()
            except Exception:  # the store may be briefly down: keep the worker alive
                log.exception("notify.email.worker_failed")
                busy = False
            if wait := pause.after(found=busy, more=busy):
                await asyncio.sleep(wait)

    async def send_due(self, now: datetime | None = None) -> bool:
        """Send the next due mail; False when nothing was due."""
        mail = await self._outbox.claim(now or datetime.now(UTC))
        if mail is None:
            return False
        try:
            await self._mailer.send(mail["to"], mail["message"])
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            state = await self._outbox.failed(mail, f"{type(exc).__name__}: {exc}", _now())
            log.warning(
                "notify.email.send_failed",
                mail_id=mail["_id"],
                state=state,
                attempts=mail.get("attempts", 0) + 1,
                error=type(exc).__name__,
            )
            return True
        await self._outbox.sent(mail, _now())
        log.info("notify.email.sent", mail_id=mail["_id"], kind=mail.get("kind"))
        return True


def _now() -> datetime:
    return datetime.now(UTC)

"""Sending: the `Mailer` port, its SMTP adapter, and the worker draining `email_outbox`."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
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


# While the mail server cannot be reached, the worker waits instead of trying every due
# mail: each would fail the same way (with `make run` and no SMTP server, a demo company's
# mail logged thousands of warnings a minute). It probes with the next due mail after a
# pause that doubles from the first to the longest.
SERVER_PAUSE_FIRST = timedelta(seconds=2)
SERVER_PAUSE_LONGEST = timedelta(minutes=5)


def unreachable(exc: BaseException) -> bool:
    """The mail server could not be reached or would not serve at all, before this mail
    was handed over: no fault of the mail (connection refused or timed out, no greeting,
    a 421 "service not available"). A connection lost during a mail counts as that mail's
    attempt: otherwise one mail that always breaks it would be retried forever."""
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return True
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421


class SendWorker:
    """Drains due mails one at a time; a failure reschedules, never drops."""

    def __init__(self, outbox: EmailOutbox, mailer: Mailer) -> None:
        self._outbox = outbox
        self._mailer = mailer
        self._paused_until: datetime | None = None
        self._pause = SERVER_PAUSE_FIRST

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
        """Send the next due mail; False when nothing was due, or while the mail server is
        unreachable and the pause since the last probe has not ended."""
        now = now or datetime.now(UTC)
        if self._paused_until is not None and now < self._paused_until:
            return False
        mail = await self._outbox.claim(now)
        if mail is None:
            return False
        if await self._outbox.taken_back(mail):
            await self._outbox.withdrawn(mail, _now())
            log.info("notify.email.withdrawn", mail_id=mail["_id"])
            return True
        try:
            await self._mailer.send(mail["to"], mail["message"])
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if unreachable(exc):
                await self._outbox.unsent(mail, error, self._server_down(now, exc))
                return True
            state = await self._outbox.failed(mail, error, _now())
            log.warning(
                "notify.email.send_failed",
                mail_id=mail["_id"],
                state=state,
                attempts=mail.get("attempts", 0) + 1,
                error=type(exc).__name__,
            )
            return True
        await self._outbox.sent(mail, _now())
        if self._paused_until is not None:
            log.info("notify.email.server_reachable")
            self._paused_until, self._pause = None, SERVER_PAUSE_FIRST
        log.info("notify.email.sent", mail_id=mail["_id"], kind=mail.get("kind"))
        return True

    def _server_down(self, now: datetime, exc: BaseException) -> datetime:
        """Pause sending; when the pause ends. Said once per outage (the probes after it
        only at debug level)."""
        report = log.warning if self._paused_until is None else log.debug
        report(
            "notify.email.server_unreachable",
            error=type(exc).__name__,
            detail=str(exc)[:200],
            retry_in_seconds=self._pause.total_seconds(),
        )
        self._paused_until = now + self._pause
        self._pause = min(self._pause * 2, SERVER_PAUSE_LONGEST)
        return self._paused_until


def _now() -> datetime:
    return datetime.now(UTC)

"""Fixtures for the email tests: a real SMTP server on loopback (aiosmtpd) and the notify
service pointed at it, plus a second handle on the service's store to seed documents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from bench.stack import free_port
from canteen.allinone import create_single
from services.notify.routing import QUEUES, RoutingQueue
from shared.backends import make_store
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.conftest import serve


@dataclass
class Sink:
    """Collects what arrives; `refuse` makes the next N transactions fail with a 451."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: int = 0
    refused: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            return "451 4.3.0 try again later"
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def with_id(self, message_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Message-ID"] == message_id]


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(settings: CanteenSettings, smtp: tuple[Sink, int]) -> CanteenSettings:
    return settings.model_copy(update={"smtp_port": smtp[1], "smtp_host": "127.0.0.1"})


@pytest.fixture
async def mail_client(mail_settings: CanteenSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(create_single(mail_settings, "notify")):
        yield http


@pytest.fixture
async def store(
    mail_settings: CanteenSettings, mail_client: httpx.AsyncClient
) -> AsyncIterator[DocumentStore]:
    """The notify store, opened beside the running service (after it created its indexes)."""
    handle = make_store(mail_settings, "notify")
    yield handle
    await handle.close()


def notification(
    nid: str, recipient: str, *, private: bool = False, type_: str = "mention", **extra: Any
) -> dict[str, Any]:
    """A notification document in the docs/notify.md shape, as the inbox writes it."""
    doc: dict[str, Any] = {
        "_id": nid,
        "recipient_id": recipient,
        "type": type_,
        "actor_id": "bo",
        "target": {"type": "post", "id": "p-" + nid},
        "group_key": f"{recipient}:{type_}:post:p-{nid}",
        "group_id": "g-" + nid,
        "audience": "group" if private else "org",
        "audience_group_id": "secret-group" if private else None,
        "private": private,
        "title": "Budget 2031: layoffs in Lyon" if private else "You were mentioned",
        "summary": "bo mentioned you: the Lyon plan" if private else "bo mentioned you: hello",
        "link": "/posts/p-" + nid,
        "critical": False,
        "created_at": datetime.now(UTC),
        "seq": 1,
        "read_at": None,
        "seen_at": None,
        "hidden": False,
        "in_app": True,
        "channels": {"email": "now", "push": "now"},
    }
    doc.update(extra)
    return doc


async def deliver(store: DocumentStore, *docs: dict[str, Any]) -> None:
    """Store notifications and queue them for routing, as the inbox does after writing."""
    for doc in docs:
        await store.collection("notifications").insert_one(doc)
    for channel in QUEUES:
        await RoutingQueue(store, channel).add(docs)


def bodies(msg: EmailMessage) -> tuple[str, str]:
    """(plain text, html) parts of a message."""
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()

"""What every notify feature receives from the composition root, and what it gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute

from shared.events.envelope import Event
from shared.service import Background, Setup, Subscription
from shared.store.port import DocumentStore


@dataclass(frozen=True)
class NotifyOptions:
    """The notify settings a feature may need, as plain values."""

    aggregation_window_seconds: int = 3600
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_from: str = "Canteen <canteen@localhost>"
    public_base_url: str = "http://127.0.0.1:8080"
    vapid_private_key: str | None = field(default=None, repr=False)
    vapid_subject: str = "mailto:admin@localhost"
    digest_hour: int = 8


@dataclass
class NotifyContext:
    store: DocumentStore
    options: NotifyOptions
    # HMAC key for signed links (unsubscribe) and short-lived stream tokens.
    signing_secret: str
    route_class: type[APIRoute] = APIRoute
    # Bound once the runtime exists; gives the relay outbox records just inserted, with
    # their events (and wakes it).
    hand_off_outbox: Callable[[str, list[dict[str, Any]], list[Event]], None] = (
        lambda collection, records, events: None
    )
    # Bound by the stream feature; the inbox calls it with the notifications it just wrote
    # (so this replica's own clients need not wait for a poll).
    notifications_written: Callable[[list[dict[str, Any]]], None] = lambda docs: None


@dataclass
class Feature:
    """One feature's contribution: routes, collections with an outbox, set-up, consumers,
    and long-running background tasks (digest scheduler, delivery workers)."""

    routers: list[APIRouter] = field(default_factory=list)
    outbox_collections: list[str] = field(default_factory=list)
    setup: list[Setup] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    background: list[Background] = field(default_factory=list)

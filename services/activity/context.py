"""What every activity feature receives from the composition root, and what it gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter
from fastapi.routing import APIRoute

from services.activity.access import Access
from shared.http.front import FrontRoute
from shared.service import Background, Setup, Subscription
from shared.store.port import DocumentStore


@dataclass(frozen=True)
class ActivityOptions:
    """The activity settings a feature may need, as plain values."""

    fanout_threshold: int = 10_000
    timeline_cap: int = 800
    feed_cache_bytes: int = 32 * 1024 * 1024


@dataclass
class ActivityContext:
    store: DocumentStore
    access: Access
    options: ActivityOptions
    # Every activity router uses it: Idempotency-Key on POST, records in one collection.
    route_class: type[APIRoute] = APIRoute
    # Bound once the runtime exists; wakes the outbox relay after a write with events.
    notify_outbox: Callable[[], None] = lambda: None


@dataclass
class Feature:
    """One feature's contribution: routes, collections with an outbox, set-up, consumers.

    Consumers get their own group (`activity.<feature>`) so that a slow one (fan-out)
    never holds back another (counters).
    """

    routers: list[APIRouter] = field(default_factory=list)
    fronts: list[FrontRoute] = field(default_factory=list)
    outbox_collections: list[str] = field(default_factory=list)
    setup: list[Setup] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    background: list[Background] = field(default_factory=list)

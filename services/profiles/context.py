"""What every profiles feature receives from the composition root, and what it gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter

from shared.service import Setup, Subscription
from shared.store.port import DocumentStore


@dataclass(frozen=True)
class ProfilesOptions:
    """The profiles settings a feature may need, as plain values."""

    expertise_half_life_days: float = 180.0
    # Dev mode creates a minimal profile on first sign-in; production provisions via SCIM.
    people_auto_provision: bool = False


@dataclass
class ProfilesContext:
    store: DocumentStore
    options: ProfilesOptions
    # Bound once the runtime exists; wakes the outbox relay after a write with events.
    notify_outbox: Callable[[], None] = lambda: None


@dataclass
class Feature:
    """One feature's contribution: routes, collections with an outbox, set-up, consumers."""

    routers: list[APIRouter] = field(default_factory=list)
    outbox_collections: list[str] = field(default_factory=list)
    setup: list[Setup] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)

"""What every search feature receives from the composition root, and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter

from services.search.indexes import Indexes
from services.search.indexing.relay import IndexRelay
from services.search.indexing.repository import Projections
from shared.search import SearchIndex
from shared.service import Setup, Subscription


@dataclass
class SearchContext:
    projections: Projections
    index: SearchIndex
    indexes: Indexes
    relay: IndexRelay


@dataclass
class Feature:
    """One feature's contribution: routes, set-up steps, consumers."""

    routers: list[APIRouter] = field(default_factory=list)
    setup: list[Setup] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)

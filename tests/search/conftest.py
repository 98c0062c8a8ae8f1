"""The search service alone (routes, consumers, index relay) on each backend.

`settings` (embedded / external) comes from tests/conftest.py; on the external backend the
index aliases get the test's own prefix (from the database prefix), so runs never collide.
Events are published on the real bus (`publish`) and searched through HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from canteen.allinone import create_single
from services.search.backend import index_prefix, make_search_index
from services.search.bootstrap import build_context
from services.search.context import SearchContext
from services.search.indexes import FAMILIES, Indexes
from services.search.indexing import ensure_indexes
from shared.backends import make_bus
from shared.events import Event
from shared.events.envelope import EventData, new_event
from shared.settings import CanteenSettings
from tests.conftest import Login, login_with, serve

Publish = Callable[..., Awaitable[list[Event]]]


@pytest.fixture
async def client(settings: CanteenSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(create_single(settings, "search")):
        yield http
    if settings.backend == "external":  # the shared cluster has a shard limit
        await drop_indexes(settings)


@pytest.fixture
async def ctx(settings: CanteenSettings) -> AsyncIterator[SearchContext]:
    """The search service's parts without HTTP or the bus: projections, indexes, relay."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    context = build_context(settings)
    await context.projections.prepare()
    assert await ensure_indexes(context)
    yield context
    if settings.backend == "external":
        for family in FAMILIES:
            await context.index.drop(context.indexes.alias(family))
    await context.index.close()
    await context.projections.store.close()


async def drop_indexes(settings: CanteenSettings) -> None:
    index = make_search_index(settings)
    indexes = Indexes(prefix=index_prefix(settings))
    try:
        for family in FAMILIES:
            await index.drop(indexes.alias(family))
    finally:
        await index.close()


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    return login_with(client)


@pytest.fixture
async def publish(settings: CanteenSettings) -> AsyncIterator[Publish]:
    """`await publish(PostCreated(...), ...)`: events on the bus, as the producers send them."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bus = make_bus(settings, "search-tests", topics=["canteen.activity", "canteen.profiles"])
    await bus.start()

    async def _publish(*payloads: EventData | Event) -> list[Event]:
        events = [p if isinstance(p, Event) else new_event(p) for p in payloads]
        await bus.publish_batch([(_topic(e), e) for e in events])
        return events

    yield _publish
    await bus.close()


def _topic(event: Event) -> str:
    return "canteen.profiles" if event.type.startswith("canteen.profiles.") else "canteen.activity"

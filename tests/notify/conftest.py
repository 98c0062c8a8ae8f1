"""The notify service alone (its routes, relay and consumers) on each backend.

`settings` (embedded / external) comes from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from canteen.allinone import create_single
from services.notify.context import NotifyContext, NotifyOptions
from services.notify.inbox import build_inbox
from services.notify.inbox.handlers import build_dispatcher
from services.notify.inbox.service import Inbox
from shared.backends import make_store
from shared.events.dispatch import EventDispatcher
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.conftest import Login, login_with, serve

Wired = tuple[DocumentStore, Inbox, EventDispatcher]
NotifyStores = Callable[[], Awaitable[Wired]]


@pytest.fixture
async def notify_stores(settings: CanteenSettings) -> AsyncIterator[NotifyStores]:
    """A factory of separate notify stores, each with its inbox and dispatcher (driven
    directly, no bus)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stores: list[DocumentStore] = []

    async def make() -> Wired:
        store = make_store(settings, f"notify{len(stores)}")
        stores.append(store)
        ctx = NotifyContext(store=store, options=NotifyOptions(), signing_secret="s" * 32)
        inbox, audiences = build_inbox(ctx)
        await inbox.repo.prepare()
        await audiences.prepare()
        return store, inbox, build_dispatcher(inbox, audiences)

    yield make
    for store in stores:
        await store.close()


@pytest.fixture
async def client(settings: CanteenSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(create_single(settings, "notify")):
        yield http


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    return login_with(client)

"""The activity service alone (its routes, relay and consumers) on each backend.

`settings` (embedded / external) comes from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from canteen.allinone import create_single
from shared.settings import CanteenSettings
from tests.activity.test_feeds_support import World, open_world
from tests.conftest import Login, login_with, serve


@pytest.fixture
async def client(settings: CanteenSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(create_single(settings, "activity")):
        yield http


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    return login_with(client)


@pytest.fixture
async def world(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> AsyncIterator[World]:
    """The feeds tests' world: a client, people, and direct access to the store and bus."""
    async with open_world(client, login, settings) as w:
        yield w

"""The notify service alone (its routes, relay and consumers) on each backend.

`settings` (embedded / external) comes from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from canteen.allinone import create_single
from shared.settings import CanteenSettings
from tests.conftest import Login, login_with, serve


@pytest.fixture
async def client(settings: CanteenSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(create_single(settings, "notify")):
        yield http


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    return login_with(client)

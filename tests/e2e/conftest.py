"""The all-in-one app (all four services, one process) on each backend.

`settings` (embedded / external) comes from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from canteen.allinone import create_all_in_one
from shared.settings import CanteenSettings
from tests.conftest import serve
from tests.search.conftest import drop_indexes


@pytest.fixture
async def client(settings: CanteenSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(create_all_in_one(settings)):
        yield http
    if settings.backend == "external":  # the shared OpenSearch cluster has a shard limit
        await drop_indexes(settings)


async def token_for(client: httpx.AsyncClient, sub: str, roles: list[str] | None = None) -> str:
    response = await client.post("/api/v1/dev/token", json={"sub": sub, "roles": roles or []})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token

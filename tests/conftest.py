"""Test-wide set-up: production-like logs, and the settings of a service on each backend."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from shared.logging import configure_logging
from shared.settings import CanteenSettings
from tests.support import engine_address

configure_logging(level="info", json=False, service="test")

DEV_SECRET = "test-dev-signing-secret-" + "x" * 16
CURSOR_SECRET = "test-cursor-secret-" + "y" * 20

Login = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture(params=["embedded", pytest.param("external", marks=pytest.mark.engines)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CanteenSettings]:
    """Dev-mode settings on the embedded backend, or on the real engines (own databases,
    dropped after the test)."""
    common = {
        "env": "dev",
        "data_dir": tmp_path / "var",
        "dev_signing_secret": DEV_SECRET,
        "cursor_secret": CURSOR_SECRET,
        "outbox_poll_seconds": 0.05,
    }
    if request.param == "embedded":
        yield CanteenSettings(backend="embedded", **common)  # type: ignore[arg-type]
        return
    external = CanteenSettings(  # type: ignore[arg-type]
        backend="external",
        kafka_bootstrap_servers=engine_address("kafka"),
        mongodb_uri=engine_address("mongodb"),
        mongodb_database_prefix=f"t{uuid.uuid4().hex[:10]}",
        # Own topics and consumer groups: parallel or earlier test runs never interfere.
        bus_namespace=f"t{uuid.uuid4().hex[:10]}",
        opensearch_url=engine_address("opensearch"),
        **common,
    )
    yield external
    drop_databases(external)


def drop_databases(settings: CanteenSettings) -> None:
    """Drop the test's databases: left behind, a whole run's thousands of them stayed open
    in the test FerretDB (a pool and a SQLite file each) and slowed its start-up."""
    prefix = f"{settings.mongodb_database_prefix}_"
    client: MongoClient[dict[str, object]] = MongoClient(
        settings.mongodb_uri.get_secret_value(), serverSelectionTimeoutMS=2000
    )
    # Clean-up only: an engine a test stopped on purpose keeps them, as before.
    with contextlib.suppress(PyMongoError), client:
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)


async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on `app`, with its lifespan (runtimes, relays, consumers) running."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://canteen") as http:
            yield http


def login_with(client: httpx.AsyncClient) -> Login:
    """`headers = await login("ana", roles=["admin"])` -> Authorization headers for a user."""

    async def _login(sub: str, roles: list[str] | None = None) -> dict[str, str]:
        response = await client.post("/api/v1/dev/token", json={"sub": sub, "roles": roles or []})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return _login

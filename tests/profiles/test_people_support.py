"""Helpers of the people and SCIM tests: people made through the API, the profiles store
opened a second time (to read what is at rest, or to write the skills feature's
`person_skills` as it would), and an observer of the profiles topic.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from services.profiles.context import ProfilesOptions
from shared.backends import make_bus, make_store
from shared.events import Event
from shared.events.schemas import profiles
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.conftest import Login
from tests.support import eventually

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def dev_auto_provision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dev mode's `GET /people/me` creates the profile (the composition root sets it)."""
    monkeypatch.setattr(ProfilesOptions, "people_auto_provision", True, raising=False)


@asynccontextmanager
async def profiles_store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    """A second connection to the profiles service's own store."""
    store = make_store(settings, "profiles")
    try:
        yield store
    finally:
        await store.close()


async def admin(login: Login) -> dict[str, str]:
    return await login("root", roles=["admin"])


async def add_person(
    client: httpx.AsyncClient, login: Login, person_id: str, **fields: Any
) -> dict[str, Any]:
    """A person created by an admin; `handle` defaults to the id, a display name to its title."""
    body = {"id": person_id, "handle": person_id, "display_name": person_id.title(), **fields}
    response = await client.post("/api/v1/people", json=body, headers=await admin(login))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class Observer:
    """Collects the events published on the profiles topic."""

    def __init__(self, settings: CanteenSettings) -> None:
        self.received: list[Event] = []
        self._bus = make_bus(settings, "test-observer", topics=[profiles.TOPIC])
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Observer:
        await self._bus.start()

        async def collect(event: Event) -> None:
            self.received.append(event)

        self._consumer = self._bus.consumer(
            group=f"observer-{uuid.uuid4().hex[:8]}", topics=[profiles.TOPIC], handler=collect
        )
        self._task = asyncio.create_task(self._consumer.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        assert self._task is not None
        await self._task
        await self._bus.close()

    async def types_of(self, subject: str, count: int) -> list[str]:
        """The types of the first `count` events about `subject`, in order."""

        async def ours() -> list[Event]:
            return [e for e in self.received if e.subject == subject]

        events = await eventually(ours, until=lambda es: len(es) >= count, within=60)
        return [e.type for e in events]

    def of(self, subject: str) -> list[Event]:
        return [e for e in self.received if e.subject == subject]

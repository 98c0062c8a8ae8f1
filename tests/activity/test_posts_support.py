"""Helpers of the posts and directory tests: groups and memberships written straight into
the activity store (the groups feature owns them; posts only read them through Access),
person events published on the bus as the profiles service would, and the event observer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from services.activity.access import GROUPS, MEMBERSHIPS, membership_id
from shared.backends import make_bus, make_store
from shared.events import Event
from shared.events.envelope import EventData, new_event
from shared.events.schemas import profiles
from shared.events.schemas.activity import TOPIC as ACTIVITY_TOPIC
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.support import eventually

PROBLEM = "application/problem+json"


@asynccontextmanager
async def activity_store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    """A second connection to the activity service's own store."""
    store = make_store(settings, "activity")
    try:
        yield store
    finally:
        await store.close()


async def add_group(
    store: DocumentStore, group_id: str, *, visibility: str, members: dict[str, str]
) -> None:
    """A group and its active memberships (`members`: user id -> owner|admin|member)."""
    now = datetime.now(UTC)
    await store.collection(GROUPS).insert_one(
        {
            "_id": group_id,
            "slug": group_id,
            "name": group_id.title(),
            "visibility": visibility,
            "join_policy": "open" if visibility == "public" else "invite",
            "deleted": False,
            "created_at": now,
        }
    )
    for user_id, role in members.items():
        await store.collection(MEMBERSHIPS).insert_one(
            {
                "_id": membership_id(group_id, user_id),
                "group_id": group_id,
                "user_id": user_id,
                "role": role,
                "state": "active",
                "created_at": now,
            }
        )


async def publish(settings: CanteenSettings, *payloads: EventData | Event) -> list[Event]:
    """Publish events on their topic, as their producing service would."""
    bus = make_bus(settings, "test-publisher", topics=[profiles.TOPIC, ACTIVITY_TOPIC])
    await bus.start()
    events = [p if isinstance(p, Event) else new_event(p) for p in payloads]
    try:
        for event, payload in zip(events, payloads, strict=True):
            topic = payload.topic if isinstance(payload, EventData) else profiles.TOPIC
            await bus.publish(event, topic=topic)
    finally:
        await bus.close()
    return events


def person(user_id: str, handle: str, name: str, **extra: Any) -> profiles.PersonCreated:
    return profiles.PersonCreated(id=user_id, handle=handle, display_name=name, **extra)


class Observer:
    """Collects the events published on the activity topic."""

    def __init__(self, settings: CanteenSettings) -> None:
        self.received: list[Event] = []
        self._bus = make_bus(settings, "test-observer", topics=[ACTIVITY_TOPIC])
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Observer:
        await self._bus.start()

        async def collect(event: Event) -> None:
            self.received.append(event)

        self._consumer = self._bus.consumer(
            group=f"observer-{uuid.uuid4().hex[:8]}", topics=[ACTIVITY_TOPIC], handler=collect
        )
        self._task = asyncio.create_task(self._consumer.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        assert self._task is not None
        await self._task
        await self._bus.close()

    async def events_of(self, subject: str, count: int) -> list[Event]:
        async def ours() -> list[Event]:
            return [e for e in self.received if e.subject == subject]

        return await eventually(ours, until=lambda es: len(es) >= count, within=60)

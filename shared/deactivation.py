"""A leaver's tokens stop working on every service.

Access tokens come from the identity provider and stay valid until they expire; when SCIM
deactivates a person, each service must refuse them itself. Every service keeps a small
projection of who is deactivated (from the profiles events, in its own store, consumer
group `<service>.deactivations`) and the HTTP kit asks it about each verified principal.

The answer is cached per person for a few seconds: the request path must not pay a store
round trip, and a token stops working at most `ttl_seconds` after the projection learns
of the deactivation (all replicas read the same projection, so none lags further).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import structlog

from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.profiles import (
    TOPIC,
    PersonCreated,
    PersonDeactivated,
    PersonReactivated,
    PersonUpdated,
)
from shared.http.auth.principal import Principal
from shared.service import Subscription
from shared.store.port import DocumentStore

log = structlog.get_logger()

COLLECTION = "deactivated_people"


class Deactivations:
    """The projection, its consumer, and the gate the HTTP kit calls (`allows`)."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        ttl_seconds: float = 5.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._people = store.collection(COLLECTION)
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self.dispatcher = self._dispatcher()

    def subscription(self, service: str) -> Subscription:
        return Subscription(
            group=f"{service}.deactivations", topics=[TOPIC], handler=self.dispatcher
        )

    async def allows(self, principal: Principal) -> bool:
        user_id = principal.user_id
        now = self._clock()
        cached = self._cache.get(user_id)
        if cached is not None and cached[1] > now:
            return not cached[0]
        doc = await self._people.find_one({"_id": user_id})
        deactivated = bool(doc and doc.get("deactivated"))
        self._cache[user_id] = (deactivated, now + self._ttl)
        self._cache.move_to_end(user_id)
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return not deactivated

    async def _set(self, event: Event, person_id: str, deactivated: bool) -> None:
        # Events of one person share a partition (keyed by person id), so they arrive in
        # order; `at` still keeps a replayed older event from undoing a newer state.
        at = event.time.isoformat()
        current = await self._people.find_one({"_id": person_id})
        if current is None and not deactivated:
            return  # active and never deactivated: nothing to remember
        if current is not None and current.get("at", "") > at:
            return
        await self._people.update_one(
            {"_id": person_id},
            {"$set": {"deactivated": deactivated, "at": at}},
            upsert=True,
        )
        self._cache.pop(person_id, None)
        if deactivated:
            log.info("auth.person.deactivated", person_id=person_id)

    def _dispatcher(self) -> EventDispatcher:
        d = EventDispatcher(registry)

        @d.on(PersonDeactivated)
        async def deactivated(event: Event, data: PersonDeactivated) -> None:
            await self._set(event, data.id, True)

        async def snapshot(event: Event, data: Any) -> None:
            await self._set(event, data.id, not data.active)

        for model in (PersonCreated, PersonUpdated, PersonReactivated):
            d.on(model)(snapshot)
        return d

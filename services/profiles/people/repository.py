"""People persistence through the DocumentStore port; events ride in the same write (outbox)."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import Event
from shared.outbox import insert_with_events, update_with_events
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore, Filter

PEOPLE = "people"
# The skills feature's collection: {_id: "<person_id>:<skill_id>", person_id, skill_id, level}.
PERSON_SKILLS = "person_skills"
DIRECTORY_SORT = [("handle", 1), ("_id", 1)]
MAX_SKILLED = 5000


class HandleTaken(Exception):
    """Another person has this handle."""


class PersonExists(Exception):
    """A person with this id exists already."""


class PeopleRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._people = store.collection(PEOPLE)
        self._skills = store.collection(PERSON_SKILLS)

    async def prepare(self) -> None:
        """Indexes for the hot reads (idempotent)."""
        await self._people.create_index([("handle", 1)], unique=True, name="people_handle")
        await self._people.create_index([("active", 1), ("handle", 1), ("_id", 1)])
        await self._people.create_index([("manager_id", 1), ("handle", 1)])
        await self._people.create_index([("department", 1), ("handle", 1)])
        await self._people.create_index([("scim.user_name_key", 1)])
        await self._people.create_index([("scim.external_id", 1)])

    async def add(self, doc: dict[str, Any], events: list[Event]) -> None:
        try:
            await self._people.insert_one(insert_with_events(doc, events))
        except DuplicateKeyError:
            if await self._people.find_one({"_id": doc["_id"]}) is not None:
                raise PersonExists(doc["_id"]) from None
            raise HandleTaken(doc["handle"]) from None

    async def get(self, person_id: str) -> dict[str, Any] | None:
        doc = await self._people.find_one({"_id": person_id})
        return strip_outbox(doc) if doc else None

    async def by_handle(self, handle: str) -> dict[str, Any] | None:
        doc = await self._people.find_one({"handle": handle})
        return strip_outbox(doc) if doc else None

    async def find_one(self, filter: Filter) -> dict[str, Any] | None:
        doc = await self._people.find_one(filter)
        return strip_outbox(doc) if doc else None

    async def update(
        self, person: dict[str, Any], fields: dict[str, Any], events: list[Event]
    ) -> dict[str, Any] | None:
        """Apply `fields` unless the person changed since it was read (then None)."""
        guard = {"_id": person["_id"], "revision": person["revision"]}
        try:
            doc = await self._people.find_one_and_update(
                guard, update_with_events({"$set": fields}, events)
            )
        except DuplicateKeyError:
            raise HandleTaken(fields.get("handle", "")) from None
        return strip_outbox(doc) if doc else None

    async def append_events(self, person: dict[str, Any], events: list[Event]) -> bool:
        """Add `events` to the person's outbox, changing nothing else, unless the person
        changed since it was read (False)."""
        guard = {"_id": person["_id"], "revision": person["revision"]}
        result = await self._people.update_one(guard, update_with_events({}, events))
        return result.matched_count == 1

    async def page(
        self, filter: Filter, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        docs = await self._people.find(filter, sort=DIRECTORY_SORT, limit=limit, after=after)
        return [strip_outbox(d) for d in docs]

    async def find(
        self, filter: Filter, *, skip: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        docs = await self._people.find(filter, sort=[("_id", 1)], skip=skip, limit=limit)
        return [strip_outbox(d) for d in docs]

    async def count(self, filter: Filter) -> int:
        return await self._people.count(filter)

    async def with_skill(self, skill_id: str) -> list[str]:
        """Ids of the people who declared `skill_id` (the skills feature's collection)."""
        docs = await self._skills.find(
            {"skill_id": skill_id}, sort=[("_id", 1)], limit=MAX_SKILLED, projection=["person_id"]
        )
        return [d["person_id"] for d in docs if isinstance(d.get("person_id"), str)]

"""People persistence through the DocumentStore port; events ride in the same write (outbox)."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import Event
from shared.outbox import insert_with_events, update_with_events
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore, Filter
from shared.store.reads import IN_CHUNK

PEOPLE = "people"
# The skills feature's collections (read only, shapes in docs/profiles.md): the taxonomy
# {_id: slug, name, aliases: [slug]}, and declarations {_id: "<person_id>:<skill_id>",
# person_id, skill_id, level, removed}.
SKILLS = "skills"
PERSON_SKILLS = "person_skills"
DIRECTORY_SORT = [("handle", 1), ("_id", 1)]
# People ids per `$in` of a skill filter: each read stays an index lookup (`IN_CHUNK`).
SKILLED_CHUNK = IN_CHUNK


class HandleTaken(Exception):
    """Another person has this handle."""


class PersonExists(Exception):
    """A person with this id exists already."""


class PeopleRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._people = store.collection(PEOPLE)
        self._skills = store.collection(PERSON_SKILLS)
        self._taxonomy = store.collection(SKILLS)

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

    async def skill_names(self, skill: str) -> list[str]:
        """The skill ids under which people may have declared the normalized `skill`.

        An alias gives its taxonomy entry, as a declaration resolves it
        (`SkillService.canonical`; the skills package imports expertise, so people reads
        the documented shape rather than importing it). The entry's aliases come too: a
        free skill declared before an admin made it an alias is that skill now."""
        owner = await self._taxonomy.find_one({"$or": [{"_id": skill}, {"aliases": skill}]})
        if owner is None:
            return [skill]
        return [str(owner["_id"]), *owner.get("aliases", [])]

    async def with_skill(self, skill_ids: list[str]) -> list[str]:
        """Ids of the people who declared one of `skill_ids` and did not remove it."""
        docs = await self._skills.find(
            {"skill_id": {"$in": skill_ids}, "removed": False}, projection=["person_id"]
        )
        return sorted({d["person_id"] for d in docs if isinstance(d.get("person_id"), str)})

    async def page_among(
        self, filter: Filter, ids: list[str], *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """A directory page of the people among `ids` (all of them: no cap drops anyone).

        One `$in` of every id could outgrow what an engine narrows by an index, so each
        chunk of ids gives its own first `limit` people after the cursor; the first `limit`
        of those are the first `limit` of all."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), SKILLED_CHUNK):
            among: Filter = {"_id": {"$in": ids[start : start + SKILLED_CHUNK]}}
            query = {"$and": [filter, among]} if filter else among
            found += await self.page(query, limit=limit, after=after)
        found.sort(key=lambda d: (d["handle"], d["_id"]))
        return found[:limit]

"""Skills persistence: the taxonomy, declared skills and endorsements (with their outbox)."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import Event
from shared.outbox import insert_with_events, update_with_events
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

SKILLS = "skills"
PERSON_SKILLS = "person_skills"
ENDORSEMENTS = "endorsements"
PEOPLE = "people"


class SkillRepository:
    def __init__(self, store: DocumentStore) -> None:
        self.skills = store.collection(SKILLS)
        self.person_skills = store.collection(PERSON_SKILLS)
        self.endorsements = store.collection(ENDORSEMENTS)
        self._people = store.collection(PEOPLE)

    async def prepare(self) -> None:
        await self.skills.create_index([("aliases", 1)])
        await self.person_skills.create_index([("person_id", 1), ("removed", 1)])
        # The directory's `?skill=` filter reads by skill.
        await self.person_skills.create_index([("skill_id", 1), ("removed", 1)])
        await self.endorsements.create_index([("person_id", 1), ("active", 1)])

    # taxonomy

    async def skill(self, skill_id: str) -> dict[str, Any] | None:
        return await self.skills.find_one({"_id": skill_id})

    async def owner_of(self, names: list[str]) -> dict[str, Any] | None:
        """The taxonomy entry whose id or an alias is one of `names`."""
        return await self.skills.find_one(
            {"$or": [{"_id": {"$in": names}}, {"aliases": {"$in": names}}]}
        )

    async def alias_owner(self, skill_id: str, aliases: list[str]) -> dict[str, Any] | None:
        """Another taxonomy entry whose id or an alias is one of `aliases`."""
        if not aliases:
            return None
        others = {"_id": {"$ne": skill_id}}
        return await self.skills.find_one(
            {"$and": [others, {"_id": {"$in": aliases}}]}
        ) or await self.skills.find_one({"$and": [others, {"aliases": {"$in": aliases}}]})

    async def resolve(self, name: str) -> dict[str, Any] | None:
        return await self.owner_of([name])

    async def list_skills(self, limit: int, after: dict[str, Any] | None) -> list[dict[str, Any]]:
        return await self.skills.find({}, sort=[("_id", 1)], limit=limit, after=after)

    async def insert_skill(self, doc: dict[str, Any]) -> bool:
        try:
            await self.skills.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def update_skill(self, skill_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        return await self.skills.find_one_and_update({"_id": skill_id}, {"$set": fields})

    async def delete_skill(self, skill_id: str) -> bool:
        deleted = await self.skills.delete_one({"_id": skill_id})
        if deleted:
            await self.skills.update_many({"parent_id": skill_id}, {"$set": {"parent_id": None}})
        return bool(deleted)

    # people (read only)

    async def person(self, person_id: str) -> dict[str, Any] | None:
        return await self._people.find_one({"_id": person_id})

    # declared skills and endorsements (documents with an outbox)

    async def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        doc = await getattr(self, collection).find_one({"_id": doc_id})
        return strip_outbox(doc) if doc else None

    async def write(
        self,
        collection: str,
        current: dict[str, Any] | None,
        fields: dict[str, Any],
        events: list[Event],
    ) -> bool:
        """Insert, or update if unchanged since read (revision); False on a race."""
        coll = getattr(self, collection)
        if current is None:
            try:
                await coll.insert_one(insert_with_events(fields, events))
            except DuplicateKeyError:
                return False
            return True
        changes = {k: v for k, v in fields.items() if k != "_id"}
        result = await coll.update_one(
            {"_id": current["_id"], "revision": current["revision"]},
            update_with_events({"$set": changes}, events),
        )
        return bool(result.matched_count)

    async def declared(self, person_id: str) -> list[dict[str, Any]]:
        docs = await self.person_skills.find(
            {"person_id": person_id, "removed": False}, sort=[("skill_id", 1)], limit=500
        )
        return [strip_outbox(d) for d in docs]

    async def endorsements_of(self, person_id: str) -> list[dict[str, Any]]:
        return await self.endorsements.find(
            {"person_id": person_id, "active": True},
            limit=10_000,
            projection=["endorser_id", "skill_id"],
        )

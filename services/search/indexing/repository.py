"""The search service's own projections (its document store), the source of every index doc.

A projection document carries `seq` (bumped by every change, the index's external version),
`dirty` (changed since last indexed; the index relay clears it) and `event_time` (of the
newest change, for the index-lag metric). Changes are compare-and-swap on `seq`, so handlers
of different partitions folding into one document never lose each other's updates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection, DocumentStore

POST_FOLDS = "post_folds"
GROUP_FOLDS = "group_folds"
PEOPLE = "people"
MEMBERSHIPS = "memberships"
REACTIONS = "reactions"
VOTES = "votes"
INDEX_STATE = "index_state"
SETTINGS = "settings"
INDEXED = (POST_FOLDS, GROUP_FOLDS, PEOPLE)
_MAX_CAS_ATTEMPTS = 100

Fold = Callable[[dict[str, Any] | None], dict[str, Any] | None]


class ProjectionContention(RuntimeError):
    """Too many concurrent writers on one document (retried by the bus)."""


class Projections:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def __getitem__(self, name: str) -> Collection:
        return self.store.collection(name)

    async def prepare(self) -> None:
        for name in INDEXED:
            await self[name].create_index([("dirty", 1), ("_id", 1)])
        await self[POST_FOLDS].create_index([("post.group_id", 1)])
        await self[POST_FOLDS].create_index([("post.author_id", 1)])
        await self[MEMBERSHIPS].create_index([("user_id", 1), ("active", 1)])
        await self[REACTIONS].create_index([("post_id", 1), ("active", 1)])
        await self[VOTES].create_index([("answer_id", 1), ("value", 1)])

    async def apply(
        self, name: str, doc_id: str, fold: Fold, *, event_time: datetime | None = None
    ) -> bool:
        """Fold a change into `name/doc_id`; True when the state changed (marked dirty)."""
        coll = self[name]
        for _ in range(_MAX_CAS_ATTEMPTS):
            current = await coll.find_one({"_id": doc_id})
            new = fold(current)
            if new is None:
                return False
            seq = int((current or {}).get("seq", 0))
            body = {**new, "_id": doc_id, "seq": seq + 1, "dirty": name in INDEXED}
            if event_time is not None:
                body["event_time"] = event_time
            if current is None:
                try:
                    await coll.insert_one(body)
                    return True
                except DuplicateKeyError:
                    continue
            fields = {k: v for k, v in body.items() if k != "_id"}
            result = await coll.update_one({"_id": doc_id, "seq": seq}, {"$set": fields})
            if result.matched_count:
                return True
        raise ProjectionContention(f"{name}/{doc_id}")

    async def touch(self, name: str, filter: dict[str, Any]) -> int:
        """Mark documents for re-indexing (their inputs elsewhere changed)."""
        result = await self[name].update_many(filter, {"$inc": {"seq": 1}, "$set": {"dirty": True}})
        return result.modified_count

    async def get(self, name: str, doc_id: str) -> dict[str, Any] | None:
        return await self[name].find_one({"_id": doc_id})

    async def many(self, name: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        docs = await self[name].find({"_id": {"$in": sorted(set(ids))}})
        return {d["_id"]: d for d in docs}

    async def dirty(self, name: str, limit: int) -> list[dict[str, Any]]:
        return await self[name].find({"dirty": True}, sort=[("_id", 1)], limit=limit)

    async def clean(self, name: str, doc_id: str, seq: int) -> None:
        """Clear `dirty` unless the document changed again since it was read."""
        await self[name].update_one({"_id": doc_id, "seq": seq}, {"$set": {"dirty": False}})

    async def member_groups(self, user_id: str) -> list[str]:
        """Groups where `user_id` is an active member, deleted groups left out."""
        docs = await self[MEMBERSHIPS].find(
            {"user_id": user_id, "active": True}, projection=["group_id"]
        )
        ids = sorted({d["group_id"] for d in docs})
        if not ids:
            return []
        gone = await self[GROUP_FOLDS].find(
            {"_id": {"$in": ids}, "deleted": True}, projection=["_id"]
        )
        return sorted(set(ids) - {g["_id"] for g in gone})

    async def person_by_handle(self, handle: str) -> dict[str, Any] | None:
        return await self[PEOPLE].find_one({"person.handle": handle.lower()})

    async def building(self) -> dict[str, str]:
        """family -> physical index being rebuilt (the relay writes there too)."""
        docs = await self[INDEX_STATE].find({"building": {"$ne": None}})
        return {d["_id"]: d["building"] for d in docs if d.get("building")}

    async def set_building(self, family: str, physical: str | None) -> None:
        await self[INDEX_STATE].update_one(
            {"_id": family}, {"$set": {"building": physical}}, upsert=True
        )

    async def get_setting(self, key: str) -> Any:
        doc = await self[SETTINGS].find_one({"_id": key})
        return doc["value"] if doc else None

    async def put_setting(self, key: str, value: Any) -> None:
        await self[SETTINGS].update_one({"_id": key}, {"$set": {"value": value}}, upsert=True)

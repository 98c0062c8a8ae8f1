"""The search service's own projections (its document store), the source of every index doc.

A projection document carries `seq` (bumped by every change, the index's external version),
`dirty` (changed since last indexed; the index relay clears it) and `event_time` (of the
newest change, for the index-lag metric). Changes are compare-and-swap on `seq`, so handlers
of different partitions folding into one document never lose each other's updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
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
_WRITE_CONCURRENCY = 16

Fold = Callable[[dict[str, Any] | None], dict[str, Any] | None]
Change = tuple[str, str, Fold, datetime | None]  # collection, id, fold, event time


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
        self,
        name: str,
        doc_id: str,
        fold: Fold,
        *,
        event_time: datetime | None = None,
        creates: bool = False,
    ) -> bool:
        """Fold a change into `name/doc_id`; True when the state changed (marked dirty).

        `creates`: the change usually finds no document (a creation event), so the insert
        is tried first, one round trip; a document already there costs one more.
        """
        new = fold(None) if creates else None
        if new is not None and await self._put(name, doc_id, new, None, event_time):
            return True
        coll = self[name]
        for _ in range(_MAX_CAS_ATTEMPTS):
            current = await coll.find_one({"_id": doc_id})
            new = fold(current)
            if new is None:
                return False
            if await self._put(name, doc_id, new, current, event_time):
                return True
        raise ProjectionContention(f"{name}/{doc_id}")

    async def apply_many(self, changes: Sequence[Change]) -> set[tuple[str, str]]:
        """`apply` for many changes: one read per collection, one write per changed document.

        Each document's folds run in order on its state in memory, so the result is the
        one `apply` gives change by change. A document another writer changed meanwhile
        is folded again change by change. Returns the changed (collection, id) pairs.
        """
        folds: dict[tuple[str, str], list[tuple[Fold, datetime | None]]] = {}
        for name, doc_id, fold, event_time in changes:
            folds.setdefault((name, doc_id), []).append((fold, event_time))
        names = sorted({name for name, _ in folds})
        found = await asyncio.gather(
            *(self.many(name, [d for n, d in folds if n == name]) for name in names)
        )
        current = {
            (n, d): doc for n, docs in zip(names, found, strict=True) for d, doc in docs.items()
        }
        gate = asyncio.Semaphore(_WRITE_CONCURRENCY)

        async def write(key: tuple[str, str], items: list[tuple[Fold, datetime | None]]) -> bool:
            name, doc_id = key
            before = state = current.get(key)
            event_time: datetime | None = None
            changed = False
            for fold, at in items:
                new = fold(state)
                if new is not None:
                    state, changed = new, True
                    event_time = at if at is not None else event_time
            if state is None or not changed:
                return False
            async with gate:
                if await self._put(name, doc_id, state, before, event_time):
                    return True
            results = [await self.apply(name, doc_id, f, event_time=at) for f, at in items]
            return any(results)

        keys = list(folds)
        written = await asyncio.gather(*(write(key, folds[key]) for key in keys))
        return {key for key, ok in zip(keys, written, strict=True) if ok}

    async def _put(
        self,
        name: str,
        doc_id: str,
        new: dict[str, Any],
        current: dict[str, Any] | None,
        event_time: datetime | None,
    ) -> bool:
        """Write `new` over `current` (None: absent); False if someone else wrote first."""
        coll = self[name]
        seq = int((current or {}).get("seq", 0))
        body = {**new, "_id": doc_id, "seq": seq + 1, "dirty": name in INDEXED}
        if event_time is not None:
            body["event_time"] = event_time
        if current is None:
            try:
                await coll.insert_one(body)
            except DuplicateKeyError:
                return False
            return True
        fields = {k: v for k, v in body.items() if k != "_id"}
        result = await coll.update_one({"_id": doc_id, "seq": seq}, {"$set": fields})
        return bool(result.matched_count)

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

    async def clean_many(self, items: Sequence[tuple[str, str, int]]) -> None:
        """`clean` for (collection, id, seq) triples: one round trip per collection."""
        by_name: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for name, doc_id, seq in items:
            by_name.setdefault(name, []).append(
                ({"_id": doc_id, "seq": seq}, {"$set": {"dirty": False}})
            )
        for name, updates in by_name.items():
            await self[name].update_each(updates)

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

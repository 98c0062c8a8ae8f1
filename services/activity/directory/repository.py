"""The `people` collection: who is who, as last told by the profiles service.

Written only by the directory's consumer; read by posts (mentions, author display).
Each person document keeps the time of the last event applied (`event_time`), so an older
or redelivered event changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

PEOPLE = "people"


def author_view(user_id: str, person: dict[str, Any] | None) -> dict[str, Any]:
    """How a person is shown next to what they wrote; before any profile event, their id."""
    if person is None:
        return {"id": user_id, "handle": None, "display_name": user_id, "avatar_url": None}
    return {
        "id": user_id,
        "handle": person.get("handle"),
        "display_name": person.get("display_name") or user_id,
        "avatar_url": person.get("avatar_url"),
    }


class Directory:
    def __init__(self, store: DocumentStore) -> None:
        self._people = store.collection(PEOPLE)

    async def prepare(self) -> None:
        await self._people.create_index([("handle", 1)], unique=True, name="people_handle")

    async def resolve_handles(self, handles: Iterable[str]) -> dict[str, str]:
        """handle -> user id for the active people among `handles` (lower-case)."""
        wanted = sorted({h.lower() for h in handles})
        if not wanted:
            return {}
        docs = await self._people.find(
            {"handle": {"$in": wanted}, "active": True}, projection=["handle"]
        )
        return {d["handle"]: d["_id"] for d in docs}

    async def people(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """user id -> {id, handle, display_name, avatar_url}, for every id asked."""
        ids = sorted(set(user_ids))
        docs = await self._people.find({"_id": {"$in": ids}}) if ids else []
        found = {d["_id"]: d for d in docs}
        return {i: author_view(i, found.get(i)) for i in ids}

    async def apply(self, user_id: str, fields: dict[str, Any], *, at: datetime) -> bool:
        """Apply a change made at `at` unless a later one was applied; True if applied."""
        newer_only = {
            "_id": user_id,
            "$or": [{"event_time": {"$lt": at}}, {"event_time": {"$exists": False}}],
        }
        update: dict[str, Any] = {"$set": {**fields, "event_time": at}}
        for _ in range(3):
            try:
                await self._people.update_one(newer_only, update, upsert=True)
                return True
            except DuplicateKeyError:
                own = await self._people.find_one({"_id": user_id})
                if own is not None and _aware(own.get("event_time")) >= at:
                    return False  # a later change is already applied: this one is stale
                if not await self._free_handle(user_id, fields.get("handle")):
                    raise
        return False

    async def _free_handle(self, user_id: str, handle: str | None) -> bool:
        """The newest claim on a handle wins; the previous holder's own event renames it."""
        if handle is None:
            return False
        holder = await self._people.find_one({"handle": handle, "_id": {"$ne": user_id}})
        if holder is None:
            return False
        await self._people.update_one({"_id": holder["_id"]}, {"$unset": {"handle": ""}})
        return True


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

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
from shared.store.memo import StoreMemo
from shared.store.port import DocumentStore

PEOPLE = "people"
_MAX_HANDLE_ROUNDS = 5
# People kept by a directory with a cache (see Directory).
AUTHOR_CACHE_SIZE = 10_000


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
    """`cache_seconds` > 0 keeps each person's author view up to that long (`StoreMemo`):
    for feed pages, which show a page of authors each and would otherwise read `people`
    for almost every one. A new name or avatar reaches this service through an event,
    seconds late anyway; on MongoDB the cache can make it a few seconds later."""

    def __init__(self, store: DocumentStore, *, cache_seconds: float = 0.0) -> None:
        self._people = store.collection(PEOPLE)
        self._cache: StoreMemo[str, dict[str, Any]] | None = (
            StoreMemo(store.change_token, ttl=cache_seconds, maxsize=AUTHOR_CACHE_SIZE)
            if cache_seconds > 0
            else None
        )

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
        cache = self._cache
        known: dict[str, dict[str, Any]] = {}
        token = None
        if cache is not None:
            token = cache.current()
            known = {i: v for i in ids if (v := cache.get(i)) is not None}
        missing = [i for i in ids if i not in known]
        docs = await self._people.find({"_id": {"$in": missing}}) if missing else []
        found = {d["_id"]: d for d in docs}
        for i in missing:
            known[i] = author_view(i, found.get(i))
            if cache is not None:
                cache.put(i, known[i], token)
        return {i: known[i] for i in ids}

    async def apply(self, user_id: str, fields: dict[str, Any], *, at: datetime) -> bool:
        """Apply a change made at `at` unless a later one was applied; True if applied."""
        newer_only = {
            "_id": user_id,
            "$or": [{"event_time": {"$lt": at}}, {"event_time": {"$exists": False}}],
        }
        update: dict[str, Any] = {"$set": {**fields, "event_time": at}}
        for _ in range(_MAX_HANDLE_ROUNDS):
            try:
                await self._people.update_one(newer_only, update, upsert=True)
                return True
            except DuplicateKeyError:
                own = await self._people.find_one({"_id": user_id})
                if own is not None and _aware(own.get("event_time")) >= at:
                    return False  # a later change is already applied: this one is stale
                handle = update["$set"].get("handle")
                if handle is None:
                    raise
                if await self._claimed_later(user_id, handle, at):
                    # The other person's claim is the newer one: apply the rest of this
                    # change without the handle (this person let it go before that claim).
                    rest = {k: v for k, v in update["$set"].items() if k != "handle"}
                    update = {"$set": rest, "$unset": {"handle": ""}}
        raise DuplicateKeyError(f"handle of {user_id}: still contended, will be retried")

    async def _claimed_later(self, user_id: str, handle: str, at: datetime) -> bool:
        """Settle a clash on `handle` with this person's claim made at `at`.

        The newest claim wins: a holder whose last applied event is older loses the handle
        (its own later event renames it). The unset is conditional on the holder still
        holding the handle with that older event, so a rename of the holder that lands
        meanwhile is never undone. True when the holder's claim is the newer one.
        """
        holder = await self._people.find_one({"handle": handle, "_id": {"$ne": user_id}})
        if holder is None:
            return False  # freed meanwhile: try again
        if _aware(holder.get("event_time")) > at:
            return True
        await self._people.update_one(
            {"_id": holder["_id"], "handle": handle, "event_time": holder.get("event_time")},
            {"$unset": {"handle": ""}},
        )
        return False


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

"""Posts persistence through the DocumentStore port; events ride in the same write (outbox)."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import Event
from shared.outbox import insert_with_events, update_with_events
from shared.outbox.records import strip_outbox
from shared.store.port import DocumentStore

POSTS = "posts"
FEED_SORT = [("created_at", -1), ("_id", -1)]


class PostRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._posts = store.collection(POSTS)

    async def prepare(self) -> None:
        """Indexes for the hot reads (idempotent)."""
        await self._posts.create_index([("audience", 1), ("created_at", -1), ("_id", -1)])
        await self._posts.create_index([("group_id", 1), ("created_at", -1), ("_id", -1)])
        await self._posts.create_index([("author_id", 1), ("created_at", -1)])

    async def add(self, doc: dict[str, Any], events: list[Event]) -> None:
        await self._posts.insert_one(insert_with_events(doc, events))

    async def get(self, post_id: str) -> dict[str, Any] | None:
        """A live (not deleted) post."""
        doc = await self._posts.find_one({"_id": post_id, "deleted": False})
        return strip_outbox(doc) if doc else None

    async def update(
        self, post: dict[str, Any], fields: dict[str, Any], events: list[Event]
    ) -> dict[str, Any] | None:
        """Apply `fields` unless the post changed or was deleted since it was read."""
        guard = {"_id": post["_id"], "deleted": False, "revision": post["revision"]}
        if "pinned" in fields:
            guard["pinned"] = post.get("pinned", False)
        doc = await self._posts.find_one_and_update(
            guard, update_with_events({"$set": fields}, events)
        )
        return strip_outbox(doc) if doc else None

    async def readable(
        self, readable: dict[str, Any], *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Live posts matching the access filter `readable`, newest first."""
        docs = await self._posts.find(
            {"$and": [readable, {"deleted": False}]}, sort=FEED_SORT, limit=limit, after=after
        )
        return [strip_outbox(d) for d in docs]

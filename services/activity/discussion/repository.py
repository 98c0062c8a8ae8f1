"""Comments, reactions and the targets they count on, through the DocumentStore port."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import Event
from shared.outbox import insert_with_events, update_with_events
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection, DocumentStore

COMMENTS = "comments"
REACTIONS = "reactions"
TARGETS = {"post": "posts", "answer": "answers", "comment": COMMENTS}
THREAD_SORT = [("created_at", 1), ("_id", 1)]


def _clean(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {k: v for k, v in strip_outbox(doc).items() if k != "_applied"}


class DiscussionRepository:
    def __init__(self, store: DocumentStore) -> None:
        self.comments = store.collection(COMMENTS)
        self.reactions = store.collection(REACTIONS)
        self._targets = {t: store.collection(name) for t, name in TARGETS.items()}

    async def prepare(self) -> None:
        """Indexes for the hot reads (idempotent)."""
        await self.comments.create_index([("post_id", 1), ("created_at", 1), ("_id", 1)])

    def target_collection(self, target_type: str) -> Collection:
        return self._targets[target_type]

    async def target(self, target_type: str, target_id: str) -> dict[str, Any] | None:
        doc = await self._targets[target_type].find_one(
            {"_id": target_id, "deleted": {"$ne": True}}
        )
        return _clean(doc)

    # comments

    async def comment(self, comment_id: str) -> dict[str, Any] | None:
        return _clean(await self.comments.find_one({"_id": comment_id, "deleted": False}))

    async def add_comment(self, doc: dict[str, Any], events: list[Event]) -> None:
        await self.comments.insert_one(insert_with_events(doc, events))

    async def mark_has_replies(self, comment_id: str) -> None:
        await self.comments.update_one({"_id": comment_id}, {"$set": {"has_replies": True}})

    async def delete_comment(self, comment_id: str, *, at: Any, events: list[Event]) -> bool:
        result = await self.comments.update_one(
            {"_id": comment_id, "deleted": False},
            update_with_events({"$set": {"deleted": True, "deleted_at": at}}, events),
        )
        return bool(result.matched_count)

    async def thread(
        self, post_id: str, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Live comments, and deleted ones kept as placeholders for their replies."""
        docs = await self.comments.find(
            {"post_id": post_id, "$or": [{"deleted": False}, {"has_replies": True}]},
            sort=THREAD_SORT,
            limit=limit,
            after=after,
        )
        return [d for d in map(_clean, docs) if d is not None]

    # reactions

    async def reaction(self, reaction_id: str) -> dict[str, Any] | None:
        return _clean(await self.reactions.find_one({"_id": reaction_id}))

    async def write_reaction(
        self, current: dict[str, Any] | None, doc: dict[str, Any], events: list[Event]
    ) -> bool:
        """Insert or compare-and-swap the reaction; False if another write came first.

        Removing keeps the document with `kind` None: the removal event rides in it.
        """
        if current is None:
            try:
                await self.reactions.insert_one(insert_with_events({**doc, "rev": 1}, events))
            except DuplicateKeyError:
                return False
            return True
        result = await self.reactions.update_one(
            {"_id": doc["_id"], "rev": current["rev"]},
            update_with_events(
                {
                    "$set": {"kind": doc["kind"], "updated_at": doc["updated_at"]},
                    "$inc": {"rev": 1},
                },
                events,
            ),
        )
        return bool(result.matched_count)

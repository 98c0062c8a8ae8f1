"""Answers, votes and the question side of `posts`, through the DocumentStore port."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import Event
from shared.outbox import insert_with_events, update_with_events
from shared.outbox.records import strip_outbox
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

ANSWERS = "answers"
VOTES = "votes"
POSTS = "posts"
FOLLOWS = "follows"
LIST_SORT = [("created_at", -1), ("_id", -1)]
_HIDDEN = ("_applied",)


def _clean(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {k: v for k, v in strip_outbox(doc).items() if k not in _HIDDEN}


def vote_id(answer_id: str, user_id: str) -> str:
    return f"{answer_id}:{user_id}"


class QuestionRepository:
    def __init__(self, store: DocumentStore) -> None:
        self.answers = store.collection(ANSWERS)
        self.votes = store.collection(VOTES)
        self.posts = store.collection(POSTS)
        self._follows = store.collection(FOLLOWS)

    async def prepare(self) -> None:
        """Indexes for the hot reads (idempotent)."""
        await self.answers.create_index([("question_id", 1), ("deleted", 1)])
        await self.posts.create_index([("kind", 1), ("created_at", -1), ("_id", -1)])

    # questions (documents of the posts feature; we write only state and counters)

    async def question(self, question_id: str) -> dict[str, Any] | None:
        doc = await self.posts.find_one(
            {"_id": question_id, "kind": "question", "deleted": {"$ne": True}}
        )
        return _clean(doc)

    async def set_accepted(
        self, question_id: str, *, expected: str | None, new: str | None, events: list[Event]
    ) -> bool:
        """Compare-and-swap the accepted answer; False if it changed meanwhile."""
        result = await self.posts.update_one(
            {"_id": question_id, "accepted_answer_id": expected, "deleted": {"$ne": True}},
            update_with_events(
                {"$set": {"accepted_answer_id": new, "state": "answered" if new else "open"}},
                events,
            ),
        )
        return bool(result.matched_count)

    async def list_questions(
        self, filter: dict[str, Any], *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        docs = await self.posts.find(filter, sort=LIST_SORT, limit=limit, after=after)
        return [d for d in map(_clean, docs) if d is not None]

    async def followed_topics(self, user_id: str) -> list[str]:
        docs = await self._follows.find(
            {"follower_id": user_id, "target_type": "topic"}, projection=["target_id"]
        )
        return sorted({d["target_id"] for d in docs})

    # answers

    async def add_answer(self, doc: dict[str, Any], events: list[Event]) -> None:
        await self.answers.insert_one(insert_with_events(doc, events))

    async def answer(self, answer_id: str, *, with_deleted: bool = False) -> dict[str, Any] | None:
        filter: dict[str, Any] = {"_id": answer_id}
        if not with_deleted:
            filter["deleted"] = False
        return _clean(await self.answers.find_one(filter))

    async def update_answer(
        self, answer_id: str, *, revision: int, changes: dict[str, Any], events: list[Event]
    ) -> bool:
        """Write `changes` if the answer is still at `revision` and not deleted."""
        result = await self.answers.update_one(
            {"_id": answer_id, "revision": revision, "deleted": False},
            update_with_events({"$set": changes}, events),
        )
        return bool(result.matched_count)

    async def mark_deleted(self, answer_id: str, *, at: Any, events: list[Event]) -> bool:
        result = await self.answers.update_one(
            {"_id": answer_id, "deleted": False},
            update_with_events({"$set": {"deleted": True, "deleted_at": at}}, events),
        )
        return bool(result.matched_count)

    async def answers_of(self, question_id: str, *, cap: int) -> list[dict[str, Any]]:
        docs = await self.answers.find(
            {"question_id": question_id, "deleted": False},
            sort=[("created_at", 1), ("_id", 1)],
            limit=cap,
        )
        return [d for d in map(_clean, docs) if d is not None]

    # votes

    async def vote(self, answer_id: str, user_id: str) -> dict[str, Any] | None:
        return _clean(await self.votes.find_one({"_id": vote_id(answer_id, user_id)}))

    async def votes_of(self, answer_ids: list[str], user_id: str) -> dict[str, int]:
        if not answer_ids:
            return {}
        docs = await self.votes.find({"_id": {"$in": [vote_id(a, user_id) for a in answer_ids]}})
        return {d["answer_id"]: d["value"] for d in docs}

    async def write_vote(
        self, current: dict[str, Any] | None, doc: dict[str, Any], events: list[Event]
    ) -> bool:
        """Insert or compare-and-swap the vote; False if another write came first."""
        if current is None:
            try:
                await self.votes.insert_one(insert_with_events({**doc, "rev": 1}, events))
            except DuplicateKeyError:
                return False
            return True
        result = await self.votes.update_one(
            {"_id": doc["_id"], "rev": current["rev"]},
            update_with_events(
                {
                    "$set": {"value": doc["value"], "updated_at": doc["updated_at"]},
                    "$inc": {"rev": 1},
                },
                events,
            ),
        )
        return bool(result.matched_count)

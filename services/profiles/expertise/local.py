"""Local copies of what profiles learns from activity events (it never calls activity).

- `questions`: id, author, topics, audience, group; who was asked (`requested`: @mentioned,
  or suggested to the asker by who-to-ask) and who answered.
- `open_requests`: per person, the open questions they were asked and have not answered
  (`open`, a set: its size is the person's load). A question leaves everyone's set when an
  answer is accepted or it is deleted, and leaves one person's set when they answer it.
- `group_members`: `_id = "<group_id>:<user_id>"` for active memberships (and owners).
- `follows`: the follow documents (`<follower>:<person|topic>:<target>`).

Every write is set-like (`$set`, `$addToSet`, `$pull`, upsert, delete by id), so a
redelivered event changes nothing.
"""

from __future__ import annotations

from typing import Any

from shared.store.port import DocumentStore

QUESTIONS = "questions"
OPEN_REQUESTS = "open_requests"
GROUP_MEMBERS = "group_members"
FOLLOWS = "follows"


class LocalCopies:
    def __init__(self, store: DocumentStore) -> None:
        self.questions = store.collection(QUESTIONS)
        self.open_requests = store.collection(OPEN_REQUESTS)
        self.members = store.collection(GROUP_MEMBERS)
        self.follows = store.collection(FOLLOWS)

    async def prepare(self) -> None:
        await self.questions.create_index([("author_id", 1)])
        await self.members.create_index([("user_id", 1)])
        await self.members.create_index([("group_id", 1)])
        await self.follows.create_index([("follower_id", 1)])

    # questions and requests

    async def upsert_question(self, question_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        doc = await self.questions.find_one_and_update(
            {"_id": question_id},
            {"$set": fields, "$setOnInsert": {"state": "open", "deleted": False}},
            upsert=True,
        )
        assert doc is not None
        return doc

    async def question(self, question_id: str) -> dict[str, Any] | None:
        return await self.questions.find_one({"_id": question_id, "deleted": False})

    async def request(self, question_id: str, person_ids: list[str]) -> None:
        """`person_ids` were asked this question (mentioned, or suggested to the asker)."""
        if not person_ids:
            return
        doc = await self.questions.find_one_and_update(
            {"_id": question_id}, {"$addToSet": {"requested": {"$each": person_ids}}}
        )
        if doc is None or doc.get("deleted") or doc.get("state") != "open":
            return
        answered = set(doc.get("answered_by", []))
        for person_id in person_ids:
            if person_id not in answered:
                await self.open_requests.update_one(
                    {"_id": person_id}, {"$addToSet": {"open": question_id}}, upsert=True
                )

    async def answered(self, question_id: str, author_id: str) -> None:
        doc = await self.questions.find_one_and_update(
            {"_id": question_id},
            {"$addToSet": {"answered_by": author_id}, "$setOnInsert": {"deleted": False}},
            upsert=True,
        )
        if doc is not None and author_id in doc.get("requested", []):
            await self.open_requests.update_one(
                {"_id": author_id}, {"$pull": {"open": question_id}}
            )

    async def close(self, question_id: str, fields: dict[str, Any]) -> None:
        """The question was answered (accepted) or deleted: nobody is asked any more."""
        doc = await self.questions.find_one_and_update({"_id": question_id}, {"$set": fields})
        for person_id in (doc or {}).get("requested", []):
            await self.open_requests.update_one(
                {"_id": person_id}, {"$pull": {"open": question_id}}
            )

    async def reopen(self, question_id: str) -> None:
        doc = await self.questions.find_one_and_update(
            {"_id": question_id, "deleted": False}, {"$set": {"state": "open"}}
        )
        if doc is not None:
            await self.request(question_id, list(doc.get("requested", [])))

    async def load(self, person_ids: list[str]) -> dict[str, set[str]]:
        """Each person's open requests."""
        docs = await self.open_requests.find({"_id": {"$in": person_ids}})
        return {d["_id"]: set(d.get("open", [])) for d in docs}

    async def asked_by(self, author_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return await self.questions.find(
            {"author_id": author_id, "deleted": False}, limit=limit, projection=["answered_by"]
        )

    # groups

    async def set_member(self, group_id: str, user_id: str, active: bool) -> None:
        member_id = f"{group_id}:{user_id}"
        if active:
            await self.members.update_one(
                {"_id": member_id},
                {"$set": {"group_id": group_id, "user_id": user_id}},
                upsert=True,
            )
        else:
            await self.members.delete_one({"_id": member_id})

    async def drop_group(self, group_id: str) -> None:
        await self.members.delete_many({"group_id": group_id})

    async def groups_of(self, user_id: str, among: set[str]) -> set[str]:
        """Which of the groups `among` the user is an active member of."""
        if not among:
            return set()
        docs = await self.members.find(
            {"user_id": user_id, "group_id": {"$in": sorted(among)}}, projection=["group_id"]
        )
        return {d["group_id"] for d in docs}

    # follows

    async def set_follow(self, follow_id: str, fields: dict[str, Any], active: bool) -> None:
        if active:
            await self.follows.update_one({"_id": follow_id}, {"$set": fields}, upsert=True)
        else:
            await self.follows.delete_one({"_id": follow_id})

    async def following(self, follower_id: str) -> list[dict[str, Any]]:
        return await self.follows.find({"follower_id": follower_id}, limit=1000)

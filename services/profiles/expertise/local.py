"""Local copies of what profiles learns from activity events (it never calls activity).

- `questions`: id, author, topics, audience, group; who was asked (`requested`: @mentioned,
  or suggested to the asker by who-to-ask).
- `answerers`: `_id = "<question_id>:<user_id>"`, one per person who answered a question.
  Insert-only, so a batch's answers are one write rather than one update of each question
  (answers are the most common scoring event); questions kept them in `answered_by` before,
  which `prepare` moves here.
- `open_requests`: per person, the open questions they were asked and have not answered
  (`open`, a set: its size is the person's load). A question leaves everyone's set when an
  answer is accepted or it is deleted, and leaves one person's set when they answer it.
- `group_members`: `_id = "<group_id>:<user_id>"` for active memberships (and owners).
- `follows`: the follow documents (`<follower>:<person|topic>:<target>`).
- `groups`: each group's current visibility (`revision` from its events) or `deleted`, so
  that evidence follows a group that turns private, public again, or is deleted.

Every write is set-like (`$set`, `$addToSet`, `$pull`, upsert, insert-if-absent, delete by
id), so a redelivered event changes nothing.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from shared.settle import settle
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore
from shared.store.reads import find_by_ids

QUESTIONS = "questions"
ANSWERERS = "answerers"
OPEN_REQUESTS = "open_requests"
GROUP_MEMBERS = "group_members"
FOLLOWS = "follows"
GROUPS = "groups"
# Rounds of re-reading a request's facts before giving up (the event is retried).
MAX_SETTLE_ROUNDS = 50


class LocalCopies:
    def __init__(self, store: DocumentStore) -> None:
        self.questions = store.collection(QUESTIONS)
        self.answerers = store.collection(ANSWERERS)
        self.open_requests = store.collection(OPEN_REQUESTS)
        self.members = store.collection(GROUP_MEMBERS)
        self.follows = store.collection(FOLLOWS)
        self.groups = store.collection(GROUPS)

    async def prepare(self) -> None:
        await self.questions.create_index([("author_id", 1)])
        await self.members.create_index([("user_id", 1)])
        await self.members.create_index([("group_id", 1)])
        await self.follows.create_index([("follower_id", 1)])
        await self.answerers.create_index([("question_id", 1)])
        await self._move_answered_by()

    async def _move_answered_by(self) -> None:
        """Questions written before `answerers` existed kept their answerers in an array."""
        for doc in await self.questions.find({"answered_by": {"$exists": True}}):
            await self._record([(doc["_id"], a) for a in doc["answered_by"]])
            await self.questions.update_one({"_id": doc["_id"]}, {"$unset": {"answered_by": ""}})

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
        asked = list(dict.fromkeys(person_ids))
        doc = await self.questions.find_one_and_update(
            {"_id": question_id}, {"$addToSet": {"requested": {"$each": asked}}}
        )
        # `answered` and `close` write their fact, then read `requested` (written above)
        # and pull. Their pull may land before the add below: so read the facts again
        # after writing, and correct until a read agrees with what was written. Whichever
        # of us writes last, a read taken after every fact stands behind it.
        first: list[dict[str, Any] | None] = [doc]  # the first read is the one just made
        written: set[str] = set()

        async def waiting() -> set[str]:
            return await self._waiting(question_id, asked, first.pop() if first else None)

        async def write(now: set[str]) -> None:
            nonlocal written
            for person_id in sorted(now ^ written):
                if person_id in now:
                    await self.open_requests.update_one(
                        {"_id": person_id}, {"$addToSet": {"open": question_id}}, upsert=True
                    )
                else:
                    await self.open_requests.update_one(
                        {"_id": person_id}, {"$pull": {"open": question_id}}
                    )
            written = now

        await settle(
            waiting,
            write,
            written=written,
            error=lambda: RuntimeError(f"question {question_id} kept changing (will be retried)"),
            rounds=MAX_SETTLE_ROUNDS,
        )

    async def _waiting(
        self, question_id: str, person_ids: list[str], doc: dict[str, Any] | None = None
    ) -> set[str]:
        """Who of `person_ids` the question still waits on: it is open and they did not
        answer it. `doc`: the question as just read, else it is read."""
        if doc is None:
            doc = await self.questions.find_one({"_id": question_id})
        if doc is None or doc.get("deleted") or doc.get("state") != "open":
            return set()
        return set(person_ids) - await self.answered_by(question_id, person_ids)

    async def answered(self, answers: list[tuple[str, str]]) -> None:
        """Each (question_id, author_id) was answered by that author; their request on
        it, if they were asked, is done. A whole batch costs one insert and one read."""
        if not answers:
            return
        await self._record(answers)
        asked = await self.questions.find(
            {"_id": {"$in": sorted({q for q, _ in answers})}}, projection=["requested"]
        )
        requested = {d["_id"]: set(d.get("requested", [])) for d in asked}
        for question_id, author_id in dict.fromkeys(answers):
            if author_id in requested.get(question_id, ()):
                await self.open_requests.update_one(
                    {"_id": author_id}, {"$pull": {"open": question_id}}
                )

    async def _record(self, answers: list[tuple[str, str]]) -> None:
        docs = {
            f"{q}:{a}": {"_id": f"{q}:{a}", "question_id": q, "author_id": a} for q, a in answers
        }
        found = await self.answerers.find({"_id": {"$in": list(docs)}}, projection=[])
        known = {d["_id"] for d in found}
        new = [doc for key, doc in docs.items() if key not in known]
        if not new:
            return
        try:
            await self.answerers.insert_many(new)
        except DuplicateKeyError:  # recorded meanwhile by another consumer: one by one
            for doc in new:
                with suppress(DuplicateKeyError):
                    await self.answerers.insert_one(doc)

    async def answered_by(self, question_id: str, person_ids: list[str]) -> set[str]:
        """Which of `person_ids` answered the question."""
        docs = await self.answerers.find(
            {"_id": {"$in": [f"{question_id}:{p}" for p in person_ids]}}, projection=["author_id"]
        )
        return {d["author_id"] for d in docs}

    async def answerers_of(self, question_ids: list[str]) -> dict[str, set[str]]:
        """question id -> the people who answered it."""
        if not question_ids:
            return {}
        docs = await self.answerers.find(
            {"question_id": {"$in": question_ids}}, projection=["question_id", "author_id"]
        )
        out: dict[str, set[str]] = {}
        for d in docs:
            out.setdefault(d["question_id"], set()).add(d["author_id"])
        return out

    async def close(self, question_id: str, fields: dict[str, Any]) -> None:
        """The question was answered (accepted) or deleted: nobody is asked any more."""
        await self.close_many([(question_id, fields)])

    async def close_many(self, closing: list[tuple[str, dict[str, Any]]]) -> None:
        """`close` for several questions, in order: one write and one read for all.

        Like `answered`, the fact is written first and `requested` read after it, so a
        request racing with it is either pulled here or sees the fact when it re-reads.
        """
        if not closing:
            return
        await self.questions.update_each([({"_id": q}, {"$set": f}) for q, f in closing])
        asked = await self.questions.find(
            {"_id": {"$in": sorted({q for q, _ in closing})}}, projection=["requested"]
        )
        pulls = [
            ({"_id": person_id}, {"$pull": {"open": d["_id"]}})
            for d in asked
            for person_id in d.get("requested", [])
        ]
        await self.open_requests.update_each(pulls)

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
            {"author_id": author_id, "deleted": False}, limit=limit, projection=[]
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

    async def set_group(self, group_id: str, state: str, revision: int = 0) -> str:
        """Record a group's visibility (`public`/`private`) at `revision`, or `deleted`
        (final); the group's state now, whichever event came last.

        A group's events share its key, so they arrive in order; only a redelivered,
        older one meets a newer revision here, and changes nothing.
        """
        final = state == "deleted"
        newer: dict[str, Any] = {"_id": group_id, "state": {"$ne": "deleted"}}
        if not final:
            newer["revision"] = {"$lt": revision}
        fields: dict[str, Any] = (
            {"state": state} if final else {"state": state, "revision": revision}
        )
        if not (await self.groups.update_one(newer, {"$set": fields})).matched_count:
            with suppress(DuplicateKeyError):
                await self.groups.insert_one({"_id": group_id, **fields})
        doc = await self.groups.find_one({"_id": group_id})
        return str(doc["state"]) if doc else state

    async def group_states(self, group_ids: set[str]) -> dict[str, str]:
        """The known state (`public`, `private`, `deleted`) of each of these groups."""
        if not group_ids:
            return {}
        docs = await find_by_ids(self.groups, group_ids, projection=["state"])
        return {gid: d["state"] for gid, d in docs.items()}

    async def deleted_questions(self, question_ids: set[str]) -> set[str]:
        """Which of these questions are deleted (read by `_id` alone: the fast path)."""
        if not question_ids:
            return set()
        docs = await find_by_ids(self.questions, question_ids, projection=["deleted"])
        return {qid for qid, d in docs.items() if d.get("deleted")}

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

"""Questions and answers use cases: visibility first, then the rule, then one write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.activity.access import Access, member_mentions
from services.activity.directory import Directory
from services.activity.questions import domain
from services.activity.questions.repository import QuestionRepository, vote_id
from services.activity.rules import CAS_ATTEMPTS, ChangedMeanwhile, Invisible, placement
from services.activity.topics import normalize_topic
from shared.http.auth.principal import Principal

log = structlog.get_logger()


def _now() -> datetime:
    return datetime.now(UTC)


class QuestionService:
    def __init__(
        self,
        repo: QuestionRepository,
        access: Access,
        directory: Directory,
        *,
        on_events: Callable[[], None],
    ) -> None:
        self._repo = repo
        self._access = access
        self._directory = directory
        self._on_events = on_events

    async def _mentions(self, handles: list[str]) -> list[str]:
        resolved = await self._directory.resolve_handles(handles)
        return [resolved[h] for h in handles if h in resolved]

    async def visible_question(self, principal: Principal, question_id: str) -> dict[str, Any]:
        question = await self._repo.question(question_id)
        if question is None or not await self._access.can_read(principal, question):
            raise Invisible(f"question {question_id} not found")
        return question

    async def visible_answer(self, principal: Principal, answer_id: str) -> dict[str, Any]:
        answer = await self._repo.answer(answer_id)
        if answer is None or not await self._access.can_read(principal, answer):
            raise Invisible(f"answer {answer_id} not found")
        return answer

    async def people(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Display data (id, handle, display_name, avatar_url) of authors and the mentioned."""
        return await self._directory.people(user_ids)

    # answers

    async def read_answer(self, principal: Principal, answer_id: str) -> dict[str, Any]:
        """One answer, seen as in its question's list (`accepted`, `my_vote`); an answer of
        a deleted or invisible question is as invisible as the question."""
        answer = await self.visible_answer(principal, answer_id)
        question = await self.visible_question(principal, answer["question_id"])
        mine = await self._repo.votes_of([answer_id], principal.user_id)
        accepted = question.get("accepted_answer_id") == answer_id
        return {**answer, "accepted": accepted, "my_vote": mine.get(answer_id, 0)}

    async def answer(self, principal: Principal, question_id: str, text: str) -> dict[str, Any]:
        question = await self.visible_question(principal, question_id)
        body = domain.answer_body(text)
        mentions = await self._mentions(body.handles)
        doc, event = domain.new_answer(
            question,
            body,
            mentions=mentions,
            author_id=principal.user_id,
            now=_now(),
            member_mentions=await member_mentions(self._access, question, mentions),
        )
        await self._repo.add_answer(doc, [event])
        self._on_events()
        await self._access.hold_copied_visibility(doc)
        log.info("activity.answer.created", answer_id=doc["_id"], question_id=question_id)
        return doc

    async def edit(self, principal: Principal, answer_id: str, text: str) -> dict[str, Any]:
        answer = await self.visible_answer(principal, answer_id)
        moderator = await self._access.can_moderate(principal, answer)
        domain.may_change(answer, principal.user_id, moderator=moderator)
        body = domain.answer_body(text)
        mentions = await self._mentions(body.handles)
        changes, event = domain.edit_answer(
            answer,
            body,
            mentions=mentions,
            editor_id=principal.user_id,
            now=_now(),
            member_mentions=await member_mentions(self._access, answer, mentions),
        )
        if not await self._repo.update_answer(
            answer_id, revision=answer["revision"], changes=changes, events=[event]
        ):
            raise ChangedMeanwhile("the answer changed meanwhile; reload and retry")
        self._on_events()
        log.info("activity.answer.updated", answer_id=answer_id, revision=changes["revision"])
        return {**answer, **changes}

    async def delete(self, principal: Principal, answer_id: str) -> None:
        answer = await self.visible_answer(principal, answer_id)
        moderator = await self._access.can_moderate(principal, answer)
        domain.may_change(answer, principal.user_id, moderator=moderator)
        now = _now()
        event = domain.delete_answer(answer, by=principal.user_id, now=now)
        if not await self._repo.mark_deleted(answer_id, at=now, events=[event]):
            raise Invisible(f"answer {answer_id} not found")
        await self.unaccept_deleted(answer, by=principal.user_id)
        self._on_events()
        log.info("activity.answer.deleted", answer_id=answer_id)

    async def unaccept_deleted(self, answer: dict[str, Any], *, by: str) -> bool:
        """Re-open the question if `answer` (now deleted) was its accepted one (idempotent)."""
        question = await self._repo.question(answer["question_id"])
        if question is None or question.get("accepted_answer_id") != answer["_id"]:
            return False
        event = domain.acceptance(question, answer, accepted=False, by=by, now=_now())
        done = await self._repo.set_accepted(
            question["_id"], expected=answer["_id"], new=None, events=[event]
        )
        if done:
            log.info("activity.answer.unaccepted", question_id=question["_id"], reason="deleted")
        return done

    async def answers(self, principal: Principal, question_id: str) -> list[dict[str, Any]]:
        question = await self.visible_question(principal, question_id)
        docs = await self._repo.answers_of(question_id, cap=domain.MAX_ANSWERS_LISTED)
        mine = await self._repo.votes_of([d["_id"] for d in docs], principal.user_id)
        accepted = question.get("accepted_answer_id")
        return [
            {**d, "accepted": d["_id"] == accepted, "my_vote": mine.get(d["_id"], 0)}
            for d in domain.ranked(docs, accepted)
        ]

    # votes

    async def vote(self, principal: Principal, answer_id: str, value: int) -> dict[str, Any]:
        answer = await self.visible_answer(principal, answer_id)
        user = principal.user_id
        for _ in range(CAS_ATTEMPTS):
            current = await self._repo.vote(answer_id, user)
            previous = current["value"] if current else 0
            now = _now()
            event = domain.vote(answer, voter_id=user, value=value, previous=previous, now=now)
            if previous == value:
                return {"answer_id": answer_id, "value": value, "previous_value": previous}
            doc = {
                "_id": vote_id(answer_id, user),
                "answer_id": answer_id,
                "voter_id": user,
                "value": value,
                **placement(answer),
                "created_at": now,
                "updated_at": now,
            }
            if await self._repo.write_vote(current, doc, [event]):
                self._on_events()
                log.info("activity.vote.set", answer_id=answer_id, value=value)
                return {"answer_id": answer_id, "value": value, "previous_value": previous}
        raise ChangedMeanwhile("too many concurrent votes; retry")

    # accepting

    async def accept(
        self, principal: Principal, question_id: str, answer_id: str | None
    ) -> dict[str, Any]:
        """Accept `answer_id`, or un-accept with None; returns the question's new state."""
        question = await self.visible_question(principal, question_id)
        moderator = await self._access.can_moderate(principal, question)
        domain.may_accept(question, principal.user_id, moderator=moderator)
        new = None
        if answer_id is not None:
            new = domain.check_answer_of(question, await self._repo.answer(answer_id))
        for _ in range(CAS_ATTEMPTS):
            old_id = question.get("accepted_answer_id")
            if old_id == answer_id:
                return _state(question)
            now = _now()
            events = []
            if old_id is not None:
                old = await self._repo.answer(old_id, with_deleted=True)
                if old is not None:
                    events.append(
                        domain.acceptance(
                            question, old, accepted=False, by=principal.user_id, now=now
                        )
                    )
            if new is not None:
                events.append(
                    domain.acceptance(question, new, accepted=True, by=principal.user_id, now=now)
                )
            if await self._repo.set_accepted(
                question_id, expected=old_id, new=answer_id, events=events
            ):
                self._on_events()
                log.info("activity.answer.accepted", question_id=question_id, answer_id=answer_id)
                await self._undo_if_deleted_meanwhile(answer_id, by=principal.user_id)
                return _state({**question, "accepted_answer_id": answer_id})
            question = await self.visible_question(principal, question_id)
        raise ChangedMeanwhile("the question changed meanwhile; retry")

    async def _undo_if_deleted_meanwhile(self, answer_id: str | None, *, by: str) -> None:
        """An answer deleted between our check and our write must not stay accepted.

        A delete marks the answer first and then re-opens the question if it was accepted;
        we accept first and then re-read the answer, so of the two, one sees the other.
        """
        if answer_id is None:
            return
        answer = await self._repo.answer(answer_id, with_deleted=True)
        if answer is not None and answer.get("deleted"):
            if await self.unaccept_deleted(answer, by=by):
                self._on_events()
            raise Invisible(f"answer {answer_id} not found")

    # lists

    async def questions(
        self,
        principal: Principal,
        *,
        topic: str | None,
        state: str | None,
        unanswered_in_followed: bool,
        limit: int,
        after: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        clauses: list[dict[str, Any]] = [
            {"kind": "question", "deleted": False},
            await self._access.readable_filter(principal),
        ]
        if topic is not None:
            clauses.append({"topics": normalize_topic(topic)})
        if state is not None:
            clauses.append({"state": state})
        if unanswered_in_followed:
            followed = await self._repo.followed_topics(principal.user_id)
            if not followed:
                return []
            clauses += [{"topics": {"$in": followed}}, {"counts.answers": 0}]
        return await self._repo.list_questions({"$and": clauses}, limit=limit, after=after)


def _state(question: dict[str, Any]) -> dict[str, Any]:
    accepted = question.get("accepted_answer_id")
    return {
        "question_id": question["_id"],
        "state": "answered" if accepted else "open",
        "accepted_answer_id": accepted,
    }

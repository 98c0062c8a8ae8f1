"""Answers, votes and accepted answers: pure rules returning documents, changes and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.activity.discussion.text import Body, render
from services.activity.rules import Invisible, NotPermitted, placement
from shared.events.envelope import Event, new_event
from shared.events.schemas.activity.discussion import (
    AnswerAccepted,
    AnswerCreated,
    AnswerDeleted,
    AnswerUpdated,
    VoteSet,
)
from shared.ids import new_id

MAX_ANSWER_CHARS = 20_000
MAX_ANSWERS_LISTED = 200


class QuestionRuleViolation(ValueError):
    """A request that breaks a rule of questions and answers (422)."""


def answer_body(text: str) -> Body:
    """Check and render an answer's Markdown."""
    text = text.strip()
    if not text:
        raise QuestionRuleViolation("text must not be blank")
    if len(text) > MAX_ANSWER_CHARS:
        raise QuestionRuleViolation(f"text is longer than {MAX_ANSWER_CHARS} characters")
    return render(text)


def is_question(doc: dict[str, Any] | None) -> bool:
    return doc is not None and doc.get("kind") == "question" and not doc.get("deleted")


def new_answer(
    question: dict[str, Any],
    body: Body,
    *,
    mentions: list[str],
    author_id: str,
    now: datetime,
    member_mentions: list[str] | None = None,
) -> tuple[dict[str, Any], Event]:
    answer_id = new_id()
    where = placement(question)
    doc: dict[str, Any] = {
        "_id": answer_id,
        "question_id": question["_id"],
        "question_author_id": question["author_id"],
        "topics": list(question.get("topics") or []),
        "author_id": author_id,
        "body_md": body.md,
        "body_html": body.html,
        "text": body.text,
        "mentions": mentions,
        **where,
        "created_at": now,
        "edited_at": None,
        "revision": 0,
        "deleted": False,
        "votes": {"up": 0, "down": 0, "score": 0},
        "counts": {"reactions": 0},
        "reactions_by_kind": {},
    }
    event = new_event(
        AnswerCreated(
            id=answer_id,
            question_id=question["_id"],
            question_author_id=question["author_id"],
            author_id=author_id,
            topics=doc["topics"],
            text=body.text,
            mentions=mentions,
            member_mentions=member_mentions,
            created_at=now,
            **where,
        )
    )
    return doc, event


def may_change(answer: dict[str, Any], user_id: str, *, moderator: bool) -> None:
    if answer["author_id"] != user_id and not moderator:
        raise NotPermitted("only the author or a moderator may change this answer")


def edit_answer(
    answer: dict[str, Any],
    body: Body,
    *,
    mentions: list[str],
    editor_id: str,
    now: datetime,
    member_mentions: list[str] | None = None,
) -> tuple[dict[str, Any], Event]:
    """The fields to set and the `answer.updated` event (mentions: the new ones only)."""
    revision = answer["revision"] + 1
    changes = {
        "body_md": body.md,
        "body_html": body.html,
        "text": body.text,
        "mentions": mentions,
        "edited_at": now,
        "revision": revision,
    }
    new_mentions = [m for m in mentions if m not in (answer.get("mentions") or [])]
    event = new_event(
        AnswerUpdated(
            id=answer["_id"],
            question_id=answer["question_id"],
            question_author_id=answer["question_author_id"],
            author_id=answer["author_id"],
            editor_id=editor_id,
            topics=answer.get("topics") or [],
            text=body.text,
            mentions=new_mentions,
            member_mentions=(
                None
                if member_mentions is None
                else [m for m in member_mentions if m in new_mentions]
            ),
            revision=revision,
            edited_at=now,
            **placement(answer),
        )
    )
    return changes, event


def delete_answer(answer: dict[str, Any], *, by: str, now: datetime) -> Event:
    return new_event(
        AnswerDeleted(
            id=answer["_id"],
            question_id=answer["question_id"],
            question_author_id=answer["question_author_id"],
            author_id=answer["author_id"],
            deleted_by=by,
            topics=answer.get("topics") or [],
            deleted_at=now,
            **placement(answer),
        )
    )


def vote(
    answer: dict[str, Any], *, voter_id: str, value: int, previous: int, now: datetime
) -> Event:
    """The `vote.set` event for a change from `previous` to `value` (0 = no vote)."""
    if answer["author_id"] == voter_id:
        raise QuestionRuleViolation("you cannot vote on your own answer")
    return new_event(
        VoteSet(
            answer_id=answer["_id"],
            answer_author_id=answer["author_id"],
            question_id=answer["question_id"],
            voter_id=voter_id,
            value=value,
            previous_value=previous,
            topics=answer.get("topics") or [],
            at=now,
            **placement(answer),
        )
    )


def may_accept(question: dict[str, Any], user_id: str, *, moderator: bool) -> None:
    if question["author_id"] != user_id and not moderator:
        raise NotPermitted("only the asker or a moderator may accept an answer")


def acceptance(
    question: dict[str, Any],
    answer: dict[str, Any],
    *,
    accepted: bool,
    by: str,
    now: datetime,
) -> Event:
    """The `answer.accepted` event (or its undoing, `accepted` false)."""
    return new_event(
        AnswerAccepted(
            question_id=question["_id"],
            answer_id=answer["_id"],
            answer_author_id=answer["author_id"],
            asker_id=question["author_id"],
            accepted=accepted,
            decided_by=by,
            topics=question.get("topics") or [],
            at=now,
            **placement(question),
        )
    )


def check_answer_of(question: dict[str, Any], answer: dict[str, Any] | None) -> dict[str, Any]:
    if answer is None or answer.get("deleted"):
        raise Invisible("answer not found")
    if answer["question_id"] != question["_id"]:
        raise QuestionRuleViolation("that answer belongs to another question")
    return answer


def ranked(answers: list[dict[str, Any]], accepted_id: str | None) -> list[dict[str, Any]]:
    """Accepted first, then by score (highest first), then oldest first."""
    return sorted(
        answers,
        key=lambda a: (
            a["_id"] != accepted_id,
            -a["votes"]["score"],
            a["created_at"],
            a["_id"],
        ),
    )

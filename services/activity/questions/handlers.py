"""Counters of questions and answers, kept by an idempotent consumer of their events."""

from __future__ import annotations

import structlog

from services.activity.discussion.counters import apply_once, vote_deltas
from services.activity.questions.repository import QuestionRepository
from services.activity.questions.service import QuestionService
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.activity.discussion import AnswerCreated, AnswerDeleted, VoteSet

log = structlog.get_logger()


def build_dispatcher(repo: QuestionRepository, questions: QuestionService) -> EventDispatcher:
    dispatcher = EventDispatcher(registry)

    @dispatcher.on(AnswerCreated)
    async def answer_created(event: Event, data: AnswerCreated) -> None:
        """One more answer on the question."""
        await apply_once(repo.posts, data.question_id, event.id, {"counts.answers": 1})

    @dispatcher.on(AnswerDeleted)
    async def answer_deleted(event: Event, data: AnswerDeleted) -> None:
        """One answer fewer; re-open the question if the deleter crashed before doing so."""
        await apply_once(repo.posts, data.question_id, event.id, {"counts.answers": -1})
        answer = await repo.answer(data.id, with_deleted=True)
        if answer is not None and await questions.unaccept_deleted(answer, by=data.deleted_by):
            log.info("activity.answer.unaccept_repaired", answer_id=data.id)

    @dispatcher.on(VoteSet)
    async def vote_set(event: Event, data: VoteSet) -> None:
        """The answer's up, down and score counters follow the vote change."""
        deltas = vote_deltas(data.value, data.previous_value)
        await apply_once(repo.answers, data.answer_id, event.id, deltas)

    return dispatcher

"""Questions and answers: answers, up/down votes, accepting an answer, question lists."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature
from services.activity.directory import Directory
from services.activity.questions.handlers import build_dispatcher
from services.activity.questions.repository import ANSWERS, VOTES, QuestionRepository
from services.activity.questions.routes import build_router
from services.activity.questions.service import QuestionService
from shared.events.schemas.activity import TOPIC
from shared.service import Subscription

GROUP = "activity.questions"


def install(ctx: ActivityContext) -> Feature:
    repo = QuestionRepository(ctx.store)
    questions = QuestionService(
        repo, ctx.access, Directory(ctx.store), on_events=lambda: ctx.notify_outbox()
    )
    return Feature(
        routers=[build_router(questions, route_class=ctx.route_class)],
        outbox_collections=[ANSWERS, VOTES],
        setup=[repo.prepare],
        subscriptions=[
            Subscription(group=GROUP, topics=[TOPIC], handler=build_dispatcher(repo, questions))
        ],
    )

"""Comments (one level of replies) and reactions, with counts kept on the target."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature
from services.activity.directory import Directory
from services.activity.discussion.handlers import build_dispatcher
from services.activity.discussion.repository import COMMENTS, REACTIONS, DiscussionRepository
from services.activity.discussion.routes import build_router
from services.activity.discussion.service import DiscussionService
from shared.events.schemas.activity import TOPIC
from shared.service import Subscription

GROUP = "activity.discussion"


def install(ctx: ActivityContext) -> Feature:
    repo = DiscussionRepository(ctx.store)
    discussion = DiscussionService(
        repo, ctx.access, Directory(ctx.store), on_events=lambda: ctx.notify_outbox()
    )
    return Feature(
        routers=[build_router(discussion, route_class=ctx.route_class)],
        outbox_collections=[COMMENTS, REACTIONS],
        setup=[repo.prepare],
        subscriptions=[Subscription(group=GROUP, topics=[TOPIC], handler=build_dispatcher(repo))],
    )

"""Follows of people and topics: follow, unfollow, followers, following, counts."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature
from services.activity.social.handlers import build_dispatcher
from services.activity.social.repository import FOLLOWS, FollowRepository
from services.activity.social.routes import build_router
from services.activity.social.service import FollowService
from shared.events.schemas.activity import TOPIC
from shared.service import Subscription

GROUP = "activity.social"


def install(ctx: ActivityContext) -> Feature:
    repo = FollowRepository(ctx.store)
    follows = FollowService(repo, on_events=lambda: ctx.notify_outbox())
    return Feature(
        routers=[build_router(follows)],
        outbox_collections=[FOLLOWS],
        setup=[repo.prepare],
        subscriptions=[Subscription(group=GROUP, topics=[TOPIC], handler=build_dispatcher(repo))],
    )

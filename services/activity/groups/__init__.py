"""Groups (communities of practice): create, join, leave, request, approve, invite, roles."""

from __future__ import annotations

from fastapi import APIRouter

from services.activity.access import GROUPS, MEMBERSHIPS
from services.activity.context import ActivityContext, Feature
from services.activity.groups import routes, routes_members
from services.activity.groups.handlers import build_dispatcher
from services.activity.groups.memberships import MembershipService
from services.activity.groups.repository import GroupRepository
from services.activity.groups.service import GroupService
from shared.events.schemas.activity import TOPIC
from shared.service import Subscription

GROUP = "activity.groups"


def install(ctx: ActivityContext) -> Feature:
    repo = GroupRepository(ctx.store)
    groups = GroupService(repo, on_events=lambda: ctx.notify_outbox())
    router = APIRouter(prefix="/api/v1", tags=["groups"], route_class=ctx.route_class)
    routes.build_router(groups, router)
    routes_members.build_router(MembershipService(groups), router)

    return Feature(
        routers=[router],
        outbox_collections=[GROUPS, MEMBERSHIPS],
        setup=[repo.prepare],
        subscriptions=[Subscription(group=GROUP, topics=[TOPIC], handler=build_dispatcher(repo))],
    )

"""A local directory of people from the profiles service's events (@mentions, display)."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature
from services.activity.directory.handlers import build_dispatcher
from services.activity.directory.repository import PEOPLE, Directory, author_view
from shared.events.schemas import profiles
from shared.service import Subscription

__all__ = ["PEOPLE", "Directory", "author_view", "install"]


def install(ctx: ActivityContext) -> Feature:
    directory = Directory(ctx.store)
    return Feature(
        setup=[directory.prepare],
        subscriptions=[
            Subscription(
                group="activity.directory",
                topics=[profiles.TOPIC],
                handler=build_dispatcher(directory),
            )
        ],
    )

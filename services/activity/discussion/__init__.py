"""Comments (one level of replies) and reactions, with counts kept on the target."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature


def install(ctx: ActivityContext) -> Feature:
    return Feature()

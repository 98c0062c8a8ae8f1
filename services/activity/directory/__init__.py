"""A local directory of people from the profiles service's events (@mentions, display)."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature


def install(ctx: ActivityContext) -> Feature:
    return Feature()

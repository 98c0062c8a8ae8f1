"""Follows of people and topics: follow, unfollow, followers, following, counts."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature


def install(ctx: ActivityContext) -> Feature:
    return Feature()

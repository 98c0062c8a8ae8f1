"""Feeds: home (fan-out on write, merge-on-read above a threshold), group, topic, person."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature


def install(ctx: ActivityContext) -> Feature:
    return Feature()

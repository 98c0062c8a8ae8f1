"""Questions and answers: answers, up/down votes, accepting an answer, question lists."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature


def install(ctx: ActivityContext) -> Feature:
    return Feature()

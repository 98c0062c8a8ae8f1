"""Groups (communities of practice): create, join, leave, request, approve, invite, roles."""

from __future__ import annotations

from services.activity.context import ActivityContext, Feature


def install(ctx: ActivityContext) -> Feature:
    return Feature()

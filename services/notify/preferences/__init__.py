"""Preferences per type and channel, mutes, quiet hours, digest frequency, org defaults.

`domain.decide` is the one decision every channel (inbox, email, push) asks.
"""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext
from services.notify.preferences.repository import PreferenceRepository
from services.notify.preferences.routes import build_router


def install(ctx: NotifyContext) -> Feature:
    repo = PreferenceRepository(ctx.store)
    return Feature(routers=[build_router(repo, ctx.route_class)])

"""Notifications from events: who hears about what, aggregation, the in-app inbox."""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext


def install(ctx: NotifyContext) -> Feature:
    return Feature()

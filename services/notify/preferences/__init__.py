"""Preferences per type and channel, mutes, quiet hours, digest frequency, org defaults."""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext


def install(ctx: NotifyContext) -> Feature:
    return Feature()

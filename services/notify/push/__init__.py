"""Web Push (RFC 8030/8291/8292) to registered devices, behind a push-provider port."""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext


def install(ctx: NotifyContext) -> Feature:
    return Feature()

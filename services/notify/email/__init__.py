"""Email: immediate messages and daily/weekly digests over SMTP, one-click unsubscribe."""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext


def install(ctx: NotifyContext) -> Feature:
    return Feature()

"""Realtime: Server-Sent Events with Last-Event-ID resume, across replicas."""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext


def install(ctx: NotifyContext) -> Feature:
    return Feature()

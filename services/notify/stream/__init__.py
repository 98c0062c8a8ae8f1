"""Realtime: Server-Sent Events with Last-Event-ID resume, across replicas.

Every replica tails the shared `notifications` collection for the users connected to it
(`broker.Broker`), so a notification written by any replica reaches every client; what
this replica writes itself is handed to the broker at once (`ctx.notifications_written`).
"""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext
from services.notify.inbox.repository import InboxRepository
from services.notify.stream.broker import Broker
from services.notify.stream.routes import build_router
from services.notify.stream.tokens import StreamTokens

# Until NotifyOptions carries them (tests lower them by patching these names).
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 0.05


def install(ctx: NotifyContext) -> Feature:
    options = ctx.options
    heartbeat = float(getattr(options, "stream_heartbeat_seconds", HEARTBEAT_SECONDS))
    poll = float(getattr(options, "stream_poll_seconds", POLL_SECONDS))
    repo = InboxRepository(ctx.store)
    broker = Broker(repo, poll_seconds=poll)
    ctx.notifications_written = broker.publish
    router = build_router(
        repo,
        broker,
        StreamTokens(ctx.signing_secret),
        heartbeat_seconds=heartbeat,
        route_class=ctx.route_class,
    )
    return Feature(routers=[router], background=[broker.run])

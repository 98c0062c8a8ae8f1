"""Notifications from events: who hears about what, aggregation, the in-app inbox."""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext
from services.notify.inbox.handlers import build_dispatcher
from services.notify.inbox.projection import Audiences
from services.notify.inbox.repository import INBOX_BATCH, OUTBOX, InboxRepository
from services.notify.inbox.routes import build_router
from services.notify.inbox.service import Inbox
from services.notify.preferences.repository import PreferenceRepository
from services.notify.routing import RoutingQueue
from shared.events.schemas.activity import TOPIC as ACTIVITY_TOPIC
from shared.events.schemas.profiles import TOPIC as PROFILES_TOPIC
from shared.service import Subscription

GROUP = "notify.inbox"


def build_inbox(ctx: NotifyContext) -> tuple[Inbox, Audiences]:
    audiences = Audiences(ctx.store)
    inbox = Inbox(
        InboxRepository(ctx.store),
        audiences,
        PreferenceRepository(ctx.store),
        window_seconds=ctx.options.aggregation_window_seconds,
        on_announced=lambda records, events: ctx.hand_off_outbox(OUTBOX, records, events),
        on_written=lambda docs: ctx.notifications_written(docs),
        # Push is routed only where it is configured (a VAPID key): elsewhere its queue
        # would only grow.
        routing=[
            RoutingQueue(ctx.store, "email"),
            *([RoutingQueue(ctx.store, "push")] if ctx.options.vapid_private_key else []),
        ],
    )
    return inbox, audiences


def install(ctx: NotifyContext) -> Feature:
    inbox, audiences = build_inbox(ctx)
    dispatcher = build_dispatcher(inbox, audiences)
    return Feature(
        routers=[build_router(inbox, ctx.route_class)],
        outbox_collections=[OUTBOX],
        setup=[inbox.repo.prepare, audiences.prepare],
        # Finishes marks a crash interrupted, for people who do not mark again.
        background=[inbox.repo.read_state.run],
        subscriptions=[
            Subscription(
                group=GROUP,
                topics=[ACTIVITY_TOPIC, PROFILES_TOPIC],
                handler=dispatcher,
                batch_handler=dispatcher.handle_batch,
                max_batch=INBOX_BATCH,
            )
        ],
    )

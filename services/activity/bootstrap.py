"""Activity's composition root: settings in, wired runtime and routers out.

Each feature package exposes `install(ctx) -> Feature`; this is the one place that lists
them and wires their routes, outbox collections, set-up steps and consumers.
"""

from __future__ import annotations

from functools import partial

from services.activity import directory, discussion, feeds, groups, posts, questions, social
from services.activity.access import Access
from services.activity.context import ActivityContext, ActivityOptions
from shared.backends import build_runtime, make_store
from shared.bus.metrics import BusMetrics
from shared.composition import ServiceParts
from shared.deactivation import Deactivations
from shared.events.schemas import activity as activity_events
from shared.http.idempotency import idempotent_route_class, prepare_idempotency
from shared.settings import CanteenSettings

NAME = "activity"
IDEMPOTENCY = "idempotency"  # Idempotency-Key records of every activity POST route
FEATURES = (directory, posts, questions, discussion, social, groups, feeds)


def build(settings: CanteenSettings, bus_metrics: BusMetrics) -> ServiceParts:
    store = make_store(settings, NAME)
    access = Access(store)
    idempotency = store.collection(IDEMPOTENCY)
    ctx = ActivityContext(
        store=store,
        access=access,
        route_class=idempotent_route_class(idempotency),
        options=ActivityOptions(
            fanout_threshold=settings.activity_fanout_threshold,
            timeline_cap=settings.activity_timeline_cap,
            feed_cache_bytes=settings.activity_feed_cache_mb * 1024 * 1024,
        ),
    )
    features = [feature.install(ctx) for feature in FEATURES]
    deactivations = Deactivations(store)
    runtime = build_runtime(
        settings,
        NAME,
        bus_metrics,
        store=store,
        topics=[activity_events.TOPIC],
        outbox_collections=[c for f in features for c in f.outbox_collections],
        setup=[
            access.prepare,
            partial(prepare_idempotency, idempotency),
            *(step for f in features for step in f.setup),
        ],
        subscriptions=[
            *(s for f in features for s in f.subscriptions),
            deactivations.subscription(NAME),
        ],
        background=[job for f in features for job in f.background],
    )
    ctx.notify_outbox = runtime.notify_outbox
    return ServiceParts(
        runtime=runtime,
        routers=[r for f in features for r in f.routers],
        fronts=[front for f in features for front in f.fronts],
        principal_gate=deactivations,
    )

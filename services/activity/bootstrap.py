"""Activity's composition root: settings in, wired runtime and routers out."""

from __future__ import annotations

from services.activity.repository import POSTS, PostRepository
from services.activity.routes import build_router
from services.activity.service import PostService
from shared.backends import build_runtime, make_store
from shared.bus.metrics import BusMetrics
from shared.composition import ServiceParts
from shared.events.schemas import activity as activity_events
from shared.settings import CanteenSettings

NAME = "activity"


def build(settings: CanteenSettings, bus_metrics: BusMetrics) -> ServiceParts:
    store = make_store(settings, NAME)
    repo = PostRepository(store)
    runtime = build_runtime(
        settings,
        NAME,
        bus_metrics,
        store=store,
        topics=[activity_events.TOPIC],
        outbox_collections=[POSTS],
        setup=[repo.prepare],
    )
    posts = PostService(repo, on_events=runtime.notify_outbox)
    return ServiceParts(runtime=runtime, routers=[build_router(posts)])

"""Activity's composition root: settings in, wired runtime and routers out."""

from __future__ import annotations

from services.activity.repository import POSTS, PostRepository
from services.activity.routes import build_router
from services.activity.service import PostService
from shared.backends import make_bus, make_store
from shared.bus.metrics import BusMetrics
from shared.bus.port import RetryPolicy
from shared.composition import ServiceParts
from shared.events import registry
from shared.events.schemas import activity as activity_events
from shared.service import ServiceRuntime
from shared.settings import CanteenSettings

NAME = "activity"


def build(settings: CanteenSettings, bus_metrics: BusMetrics) -> ServiceParts:
    store = make_store(settings, NAME)
    bus = make_bus(settings, NAME, metrics=bus_metrics, topics=[activity_events.TOPIC])
    repo = PostRepository(store)
    runtime = ServiceRuntime(
        name=NAME,
        store=store,
        bus=bus,
        registry=registry,
        outbox_collections=[POSTS],
        setup=[repo.prepare],
        retry=RetryPolicy(max_attempts=settings.consumer_max_attempts),
        outbox_poll_seconds=settings.outbox_poll_seconds,
    )
    posts = PostService(repo, on_events=runtime.notify_outbox)
    return ServiceParts(runtime=runtime, routers=[build_router(posts)])

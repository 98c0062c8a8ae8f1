"""The notify service's composition root: settings in, wired runtime and routers out."""

from __future__ import annotations

from services.notify.handlers import build_dispatcher
from shared.backends import make_bus, make_store
from shared.bus.metrics import BusMetrics
from shared.bus.port import RetryPolicy
from shared.composition import ServiceParts
from shared.events import registry
from shared.events.schemas import activity as activity_events
from shared.events.schemas import profiles as profiles_events
from shared.service import ServiceRuntime, Subscription
from shared.settings import CanteenSettings

NAME = "notify"
CONSUMES = [activity_events.TOPIC, profiles_events.TOPIC]


def build(settings: CanteenSettings, bus_metrics: BusMetrics) -> ServiceParts:
    store = make_store(settings, NAME)
    bus = make_bus(settings, NAME, metrics=bus_metrics, topics=CONSUMES)
    runtime = ServiceRuntime(
        name=NAME,
        store=store,
        bus=bus,
        registry=registry,
        subscriptions=[Subscription(group=NAME, topics=CONSUMES, handler=build_dispatcher())],
        retry=RetryPolicy(max_attempts=settings.consumer_max_attempts),
        outbox_poll_seconds=settings.outbox_poll_seconds,
    )
    return ServiceParts(runtime=runtime, routers=[])

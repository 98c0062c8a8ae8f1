"""The search service's composition root: settings in, wired runtime and routers out."""

from __future__ import annotations

from services.search.handlers import build_dispatcher
from shared.backends import build_runtime
from shared.bus.metrics import BusMetrics
from shared.composition import ServiceParts
from shared.events.schemas import activity as activity_events
from shared.events.schemas import profiles as profiles_events
from shared.service import Subscription
from shared.settings import CanteenSettings

NAME = "search"
CONSUMES = [activity_events.TOPIC, profiles_events.TOPIC]


def build(settings: CanteenSettings, bus_metrics: BusMetrics) -> ServiceParts:
    runtime = build_runtime(
        settings,
        NAME,
        bus_metrics,
        topics=CONSUMES,
        subscriptions=[Subscription(group=NAME, topics=CONSUMES, handler=build_dispatcher())],
    )
    return ServiceParts(runtime=runtime, routers=[])

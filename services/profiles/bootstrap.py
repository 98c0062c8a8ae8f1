"""The profiles service's composition root: settings in, wired runtime and routers out.

Each feature package exposes `install(ctx) -> Feature`; this is the one place that lists
them and wires their routes, outbox collections, set-up steps and consumers.
"""

from __future__ import annotations

from services.profiles import expertise, people, scim, skills
from services.profiles.context import ProfilesContext, ProfilesOptions
from shared.backends import build_runtime, make_store
from shared.bus.metrics import BusMetrics
from shared.composition import ServiceParts
from shared.deactivation import Deactivations
from shared.events.schemas import activity as activity_events
from shared.events.schemas import profiles as profiles_events
from shared.settings import CanteenSettings

NAME = "profiles"
FEATURES = (people, scim, skills, expertise)


def build(settings: CanteenSettings, bus_metrics: BusMetrics) -> ServiceParts:
    store = make_store(settings, NAME)
    ctx = ProfilesContext(
        store=store,
        options=ProfilesOptions(
            expertise_half_life_days=settings.expertise_half_life_days,
            people_auto_provision=settings.dev_mode,
        ),
    )
    features = [feature.install(ctx) for feature in FEATURES]
    deactivations = Deactivations(store)
    runtime = build_runtime(
        settings,
        NAME,
        bus_metrics,
        store=store,
        topics=[profiles_events.TOPIC, activity_events.TOPIC],
        outbox_collections=[c for f in features for c in f.outbox_collections],
        setup=[step for f in features for step in f.setup],
        subscriptions=[
            *(s for f in features for s in f.subscriptions),
            deactivations.subscription(NAME),
        ],
    )
    ctx.notify_outbox = runtime.notify_outbox
    return ServiceParts(
        runtime=runtime,
        routers=[r for f in features for r in f.routers],
        principal_gate=deactivations,
    )

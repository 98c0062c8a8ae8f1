"""The search service's composition root: settings in, wired runtime and routers out.

Each feature package exposes `install(ctx) -> Feature`; this is the one place that lists
them and wires their routes, set-up steps and consumers.
"""

from __future__ import annotations

from services.search import indexing, querying
from services.search.backend import index_prefix, make_search_index
from services.search.context import SearchContext
from services.search.indexes import Indexes
from services.search.indexing.relay import IndexRelay
from services.search.indexing.repository import Projections
from services.search.ops import ops_router
from shared.backends import build_runtime, make_store
from shared.bus.metrics import BusMetrics
from shared.composition import ServiceParts
from shared.deactivation import Deactivations
from shared.settings import CanteenSettings

NAME = "search"
FEATURES = (indexing, querying)
TOPICS = [*indexing.CONSUMES, "canteen.search"]  # creates canteen.search.dlq for rejections


def build_context(settings: CanteenSettings) -> SearchContext:
    store = make_store(settings, NAME)
    index = make_search_index(settings)
    indexes = Indexes(prefix=index_prefix(settings))
    projections = Projections(store)
    return SearchContext(projections, index, indexes, IndexRelay(projections, index, indexes))


def build(settings: CanteenSettings, bus_metrics: BusMetrics) -> ServiceParts:
    ctx = build_context(settings)
    features = [feature.install(ctx) for feature in FEATURES]
    deactivations = Deactivations(ctx.projections.store)
    runtime = build_runtime(
        settings,
        NAME,
        bus_metrics,
        store=ctx.projections.store,
        topics=TOPICS,
        setup=[step for f in features for step in f.setup],
        subscriptions=[
            *(s for f in features for s in f.subscriptions),
            deactivations.subscription(NAME),
        ],
    )
    routers = [r for f in features for r in f.routers]
    return ServiceParts(
        runtime=runtime,
        routers=[*routers, ops_router(ctx, lambda: runtime.bus)],
        principal_gate=deactivations,
    )

"""Indexing: events -> projections (consumer group `search`) -> the index relay -> indexes."""

from __future__ import annotations

import structlog

from services.search.context import Feature, SearchContext
from services.search.indexing.handlers import build_dispatcher
from shared.events.schemas import activity as activity_events
from shared.events.schemas import profiles as profiles_events
from shared.search import SearchError
from shared.service import Subscription

log = structlog.get_logger()
GROUP = "search"
CONSUMES = [activity_events.TOPIC, profiles_events.TOPIC]


async def ensure_indexes(ctx: SearchContext) -> bool:
    """Create the aliases and first physical indexes if missing; False if the backend is down."""
    try:
        for spec in ctx.indexes.all():
            await ctx.index.ensure(spec)
        rules = await ctx.projections.get_setting("synonyms")
        await ctx.index.update_synonyms(ctx.indexes.synonyms, list(rules or []))
    except SearchError as exc:
        log.warning("search.indexes.unavailable", error=str(exc))
        return False
    return True


def install(ctx: SearchContext) -> Feature:
    dispatcher = build_dispatcher(ctx.projections, ctx.relay.notify)

    async def setup() -> None:
        await ctx.projections.prepare()
        await ensure_indexes(ctx)

    return Feature(
        setup=[setup],
        subscriptions=[
            Subscription(
                group=GROUP,
                topics=CONSUMES,
                handler=dispatcher,
                batch_handler=dispatcher.handle_batch,
            )
        ],
    )

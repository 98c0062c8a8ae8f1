"""Operations the runtime's hooks do not cover: the index relay task, /readyz, /metrics, DLQ.

An APIRouter lifespan (FastAPI merges it into the app's, inside the runtimes' start) starts
the relay, registers the `search.index` readiness check and the index-lag gauges on the
app's registry, and stops the relay and closes the index on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from prometheus_client import Gauge

from services.search.context import SearchContext
from services.search.indexing import ensure_indexes
from shared.bus.port import EventBus
from shared.events.codec import Message
from shared.http import ReadinessCheck, get_metrics_registry, get_readiness

DLQ_TOPIC = "canteen.search.dlq"


def ops_router(ctx: SearchContext, bus: Callable[[], EventBus]) -> APIRouter:
    async def dead_letter(alias: str, doc_id: str, reason: str, body: dict[str, Any]) -> None:
        headers = {
            "dlq_error": reason[:500].encode(),
            "dlq_index": alias.encode(),
            "dlq_group": b"search",
        }
        await bus().publish_raw(
            DLQ_TOPIC,
            Message(headers=headers, key=doc_id.encode(), value=orjson.dumps(body, default=str)),
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay = ctx.relay
        relay.dead_letter = dead_letter
        relay.ensure = lambda: ensure_indexes(ctx)
        get_readiness(app).add(ReadinessCheck("search.index", ctx.index.ping))
        registry = get_metrics_registry(app)
        lag = Gauge(
            "canteen_search_index_lag_seconds",
            "Age of the oldest change not yet searchable (0 when caught up).",
            registry=registry,
        )
        lag.set_function(relay.lag_seconds)
        newest = Gauge(
            "canteen_search_last_indexed_event_timestamp_seconds",
            "Event time of the newest change made searchable.",
            registry=registry,
        )
        newest.set_function(
            lambda: (
                relay.last_indexed_event_time.timestamp() if relay.last_indexed_event_time else 0.0
            )
        )
        task = asyncio.create_task(relay.run(), name="search.relay")
        relay.notify()
        try:
            yield
        finally:
            await relay.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
            get_readiness(app).remove("search.index")
            registry.unregister(lag)
            registry.unregister(newest)
            await ctx.index.close()

    return APIRouter(lifespan=lifespan)

"""`canteen admin reindex <index>`: rebuild one index into a new physical index, then swap.

Searches keep working throughout (they read the alias, which points at the old physical
index until the swap). Steps:
1. create the next physical index (`<alias>-NNNNNN`) and mark it `building`, so the live
   index relay writes every change to it as well as to the alias;
2. replay the source topics from offset 0 with a fresh consumer group through the same
   handlers (idempotent: it repairs any projection the live consumer missed and is a no-op
   for the rest) until the topics stay idle for `idle_seconds`;
3. copy every projection document of the family into the new index (external versions =
   projection `seq`, so a concurrent live write is never regressed);
4. refresh, swap the alias atomically (the old physical index is dropped), clear `building`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from services.search.bootstrap import NAME, build_context
from services.search.indexing import CONSUMES, ensure_indexes
from services.search.indexing.handlers import build_dispatcher
from services.search.indexing.repository import GROUP_FOLDS, PEOPLE, POST_FOLDS
from shared.backends import make_bus
from shared.events.envelope import Event
from shared.settings import CanteenSettings

log = structlog.get_logger()
SOURCES = {"posts": POST_FOLDS, "resources": POST_FOLDS, "people": PEOPLE, "groups": GROUP_FOLDS}
PAGE = 500


@dataclass
class ReindexProgress:
    phase: str  # "replaying" | "copying" | "swapping" | "done"
    replayed: int = 0
    copied: int = 0
    total: int = 0
    physical: str = ""


Progress = Callable[[ReindexProgress], None]


async def reindex(
    settings: CanteenSettings,
    family: str,
    *,
    progress: Progress | None = None,
    idle_seconds: float = 3.0,
    first_event_timeout: float = 30.0,
) -> ReindexProgress:
    """Rebuild `family` (posts|resources|people|groups); returns the final progress."""
    if family not in SOURCES:
        raise ValueError(f"unknown index {family!r}; choose one of {', '.join(SOURCES)}")
    report = progress or (lambda _: None)
    ctx = build_context(settings)
    bus = make_bus(settings, f"{NAME}-reindex", CONSUMES)
    state = ReindexProgress(phase="replaying")
    try:
        await bus.start()
        await ctx.projections.prepare()
        if not await ensure_indexes(ctx):
            raise RuntimeError("the search backend is unavailable")
        spec = ctx.indexes.spec(family)
        state.physical = await ctx.index.create_version(spec)
        await ctx.projections.set_building(family, state.physical)
        log.info("search.reindex.started", index=spec.alias, physical=state.physical)
        report(state)
        await _replay(bus, ctx, state, report, idle_seconds, first_event_timeout)
        state.phase = "copying"
        await _copy(ctx, family, state, report)
        state.phase = "swapping"
        report(state)
        await ctx.index.refresh(state.physical)
        await ctx.index.swap_alias(spec.alias, state.physical)
        await ctx.projections.set_building(family, None)
        state.phase = "done"
        report(state)
        log.info(
            "search.reindex.done",
            index=spec.alias,
            physical=state.physical,
            replayed=state.replayed,
            copied=state.copied,
        )
        return state
    finally:
        await bus.close()
        await ctx.index.close()
        await ctx.projections.store.close()


async def _replay(bus, ctx, state, report, idle_seconds, first_event_timeout) -> None:  # type: ignore[no-untyped-def]
    dispatcher = build_dispatcher(ctx.projections, lambda name: None)
    last = time.monotonic()

    async def handle(event: Event) -> None:
        nonlocal last
        await dispatcher(event)
        state.replayed += 1
        last = time.monotonic()
        if state.replayed % 100 == 0:
            report(state)

    group = f"{NAME}-reindex-{uuid.uuid4().hex[:8]}"
    for topic in CONSUMES:
        await bus.reset_offsets(group=group, topic=topic, offset=0)
    consumer = bus.consumer(group=group, topics=CONSUMES, handler=handle)
    task = asyncio.create_task(consumer.run())
    started = time.monotonic()
    try:
        while not task.done():
            await asyncio.sleep(0.1)
            idle = time.monotonic() - last
            if state.replayed and idle > idle_seconds:
                break
            if not state.replayed and time.monotonic() - started > first_event_timeout:
                break
    finally:
        await consumer.stop()
        await task
    report(state)


async def _copy(ctx, family: str, state: ReindexProgress, report: Progress) -> None:  # type: ignore[no-untyped-def]
    name = SOURCES[family]
    coll = ctx.projections[name]
    state.total = await coll.count({})
    after = None
    while True:
        docs = await coll.find({}, sort=[("_id", 1)], limit=PAGE, after=after)
        if not docs:
            return
        writes = [w for w in await ctx.relay.build(name, docs) if w[0] == family]
        if writes:
            await ctx.relay.write(state.physical, writes)
        state.copied += len(docs)
        report(state)
        after = {"_id": docs[-1]["_id"]}

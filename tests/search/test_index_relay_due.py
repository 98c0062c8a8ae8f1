"""The index relay reads only the projections that changed, and every one at least once
per poll interval (services/search/indexing/relay.py: DueProjections)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from services.search.context import SearchContext
from services.search.indexing.handlers import build_dispatcher
from services.search.indexing.relay import INDEXED_ORDER, DueProjections, IndexRelay
from services.search.indexing.repository import GROUP_FOLDS, PEOPLE, POST_FOLDS
from shared.events.envelope import new_event
from shared.events.schemas import profiles as pr
from tests.support import ManualClock, eventually


def test_a_pass_reads_what_changed_and_everything_once_per_interval() -> None:
    clock = ManualClock(100.0)
    due = DueProjections(1.0, clock)

    assert due.take() == list(INDEXED_ORDER)  # the first pass: everything
    assert due.take() == []
    due.add(PEOPLE)
    due.add(PEOPLE)
    assert due.take() == [PEOPLE]
    clock.now += 0.5
    due.add(POST_FOLDS)
    assert due.take() == [POST_FOLDS]
    clock.now += 0.5  # an interval since the last pass over everything
    due.add(POST_FOLDS)
    assert due.take() == list(INDEXED_ORDER)
    due.add(None)  # "anything may have changed" (start-up)
    assert due.take() == list(INDEXED_ORDER)
    due.add_all([GROUP_FOLDS])  # a failed pass gives its projections back
    assert due.take() == [GROUP_FOLDS]


async def test_a_change_nobody_woke_the_relay_for_is_indexed_under_other_traffic(
    ctx: SearchContext,
) -> None:
    """A person changed without a wake-up (as if it was lost), while posts keep waking the
    relay many times a second: the pass over everything still comes within the interval."""
    relay = IndexRelay(ctx.projections, ctx.index, ctx.indexes, poll_seconds=0.5)
    heard = build_dispatcher(ctx.projections, relay.notify)
    unheard = build_dispatcher(ctx.projections, lambda name: None)
    people = ctx.projections[PEOPLE]

    async def busy() -> None:
        while True:
            relay.notify(POST_FOLDS)
            await asyncio.sleep(0.01)  # traffic on another projection, not a wait

    running = asyncio.create_task(relay.run())
    traffic = asyncio.create_task(busy())
    try:
        # The relay is past its first pass once a change it was told of is indexed.
        await heard(new_event(pr.PersonCreated(id="u-heard", handle="heard", display_name="H")))
        await eventually(
            lambda: people.find_one({"_id": "u-heard"}),
            until=lambda doc: doc is not None and doc["dirty"] is False,
            within=20,
        )
        await unheard(new_event(pr.PersonCreated(id="u-quiet", handle="quiet", display_name="Q")))
        person = await eventually(
            lambda: people.find_one({"_id": "u-quiet"}),
            until=lambda doc: doc is not None and doc["dirty"] is False,
            within=20,
        )
        assert person["seq"] >= 1
    finally:
        traffic.cancel()
        await relay.stop()
        for task in (traffic, running):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_pass_reads_the_index_state_only_when_it_has_something_to_write(
    ctx: SearchContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most passes find nothing (the timer's, a wake-up another pass answered): they read
    no more than the dirty documents. One with a change also writes to an index being
    rebuilt, which it learns from the index state."""
    relay = IndexRelay(ctx.projections, ctx.index, ctx.indexes, poll_seconds=0.5)
    while await relay.flush_once():
        pass  # whatever the fixture's start left
    reads = 0
    building = ctx.projections.building

    async def counted() -> dict[str, str]:
        nonlocal reads
        reads += 1
        return await building()

    monkeypatch.setattr(ctx.projections, "building", counted)
    assert await relay.flush_once() == 0
    assert reads == 0
    heard = build_dispatcher(ctx.projections, relay.notify)
    await heard(new_event(pr.PersonCreated(id="u-new", handle="new", display_name="N")))
    assert await relay.flush_once() == 1
    assert reads == 1
    person = await ctx.projections[PEOPLE].find_one({"_id": "u-new"})
    assert person is not None and person["dirty"] is False

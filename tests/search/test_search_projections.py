"""Batches of events fold into the projections exactly as the same events one by one."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from services.search.domain import folds
from services.search.indexing.handlers import build_dispatcher
from services.search.indexing.repository import POST_FOLDS, Projections
from shared.backends import make_store
from shared.settings import CanteenSettings
from tests.search.test_search_convergence import history

STATE = ("post", "answers", "accepted", "deleted")


@pytest.fixture
async def stores(settings: CanteenSettings) -> AsyncIterator[tuple[Projections, Projections]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    one, batched = (Projections(make_store(settings, name)) for name in ("fold-one", "fold-many"))
    for proj in (one, batched):
        await proj.prepare()
    yield one, batched
    for proj in (one, batched):
        await proj.store.close()


def view(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {d["_id"]: {k: d.get(k) for k in STATE} for d in docs}


async def test_batches_fold_like_single_events(stores: tuple[Projections, Projections]) -> None:
    one, batched = stores
    replay = history() * 2
    random.Random(3).shuffle(replay)
    wakes: list[int] = []

    single = build_dispatcher(one, lambda: None)
    for event in replay:
        await single(event)

    dispatcher = build_dispatcher(batched, lambda: wakes.append(1))
    rng = random.Random(5)
    start = 0
    while start < len(replay):  # chunks of 1..6, as the bus hands them out
        size = rng.randint(1, 6)
        await dispatcher.handle_batch(replay[start : start + size])
        start += size

    expected = view(await one[POST_FOLDS].find({}))
    assert view(await batched[POST_FOLDS].find({})) == expected
    assert expected["q"]["post"]["title"] == "Quokka question" and expected["n"]["deleted"]
    assert wakes  # the index relay is told about the changes
    assert all(d["dirty"] for d in await batched[POST_FOLDS].find({}))


async def test_a_batch_racing_other_writers_loses_no_change(
    stores: tuple[Projections, Projections],
) -> None:
    proj, _ = stores

    def answer(answer_id: str) -> Any:
        return partial(
            folds.apply_answer,
            question_id="q",
            answer_id=answer_id,
            author_id="u",
            text=f"text {answer_id}",
            stamp=folds.stamp_of(datetime.now(UTC), answer_id),
        )

    batch = [(POST_FOLDS, "q", answer(f"a{i}"), None) for i in range(10)]
    singles = [proj.apply(POST_FOLDS, "q", answer(f"b{i}")) for i in range(10)]
    results = await asyncio.gather(proj.apply_many(batch), *singles)

    assert results[0] == {(POST_FOLDS, "q")} and all(results[1:])
    doc = await proj.get(POST_FOLDS, "q")
    assert doc is not None
    assert sorted(a["id"] for a in doc["answers"]) == sorted(
        [*(f"a{i}" for i in range(10)), *(f"b{i}" for i in range(10))]
    )

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
from shared.events import Event
from shared.events.envelope import new_event
from shared.events.schemas.activity import discussion as d
from shared.settings import CanteenSettings
from tests.search.test_search_convergence import T0, history

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
    wakes: list[str] = []

    single = build_dispatcher(one, lambda name: None)
    for event in replay:
        await single(event)

    dispatcher = build_dispatcher(batched, wakes.append)
    rng = random.Random(5)
    start = 0
    while start < len(replay):  # chunks of 1..6, as the bus hands them out
        size = rng.randint(1, 6)
        await dispatcher.handle_batch(replay[start : start + size])
        start += size

    expected = view(await one[POST_FOLDS].find({}))
    assert view(await batched[POST_FOLDS].find({})) == expected
    assert expected["q"]["post"]["title"] == "Quokka question" and expected["n"]["deleted"]
    assert set(wakes) == {POST_FOLDS}  # the index relay is told which projection changed
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


async def test_reactions_and_votes_from_many_partitions_settle_on_the_true_count(
    stores: tuple[Projections, Projections],
) -> None:
    """Reactions of different people travel on different partitions and fold concurrently.

    Each handler records its reaction, counts, and folds the count; a count read before
    another person's record must not be the one left standing.
    """
    proj, _ = stores
    dispatcher = build_dispatcher(proj, lambda name: None)
    place: dict[str, Any] = {"audience": "org", "at": T0}
    on_post = {"target_type": "post", "target_id": "q", "target_author_id": "a", "post_id": "q"}

    def reacted(user: str) -> Event:
        return new_event(
            d.ReactionSet(id=f"post:q:{user}", user_id=user, kind="like", **on_post, **place)
        )

    def unreacted(user: str) -> Event:
        return new_event(
            d.ReactionRemoved(
                id=f"post:q:{user}", user_id=user, previous_kind="like", **on_post, **place
            )
        )

    def voted(voter: str, value: int, previous: int) -> Event:
        return new_event(
            d.VoteSet(
                answer_id="a1",
                answer_author_id="b",
                question_id="q",
                voter_id=voter,
                value=value,
                previous_value=previous,
                **place,
            )
        )

    users = [f"u{i:02}" for i in range(24)]
    for user in users[:12]:
        await dispatcher(reacted(user))
        await dispatcher(voted(user, 1, 0))
    # Half of the early ones withdraw while the rest arrive, all at once.
    racing = [unreacted(u) for u in users[:6]] + [reacted(u) for u in users[12:]]
    racing += [voted(u, 0, 1) for u in users[:6]] + [voted(u, -1, 0) for u in users[12:15]]
    random.Random(11).shuffle(racing)
    await asyncio.gather(*(dispatcher(event) for event in racing))

    doc = await proj.get(POST_FOLDS, "q")
    assert doc is not None
    assert doc["reactions"] == 18
    assert [a["score"] for a in doc["answers"] if a["id"] == "a1"] == [12 - 6 - 3]

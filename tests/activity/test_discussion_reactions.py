"""Reactions: one per person per target, counts kept exact on the target."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from shared.backends import make_bus
from shared.events.envelope import new_event
from shared.events.schemas.activity import TOPIC
from shared.events.schemas.activity.discussion import ReactionSet
from shared.outbox import insert_with_events
from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_discussion_support import (
    PROBLEM,
    Town,
    activity_store,
)

ZERO = {"like": 0, "insightful": 0, "thanks": 0, "celebrate": 0}


@pytest.fixture
async def town(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> AsyncIterator[Town]:
    async with activity_store(settings) as store:
        yield Town(client, login, store)


async def test_one_reaction_per_person_set_changed_removed(town: Town) -> None:
    post = await town.post("ana")
    url = f"/api/v1/posts/{post['id']}/reactions"
    bo, cy = await town.auth("bo"), await town.auth("cy")
    r = await town.client.put(url, json={"kind": "like"}, headers=bo)
    assert r.status_code == 200 and r.json() == {"kind": "like", "previous_kind": None}
    await town.client.put(url, json={"kind": "thanks"}, headers=cy)
    r = await town.client.put(url, json={"kind": "insightful"}, headers=bo)
    assert r.json() == {"kind": "insightful", "previous_kind": "like"}
    await town.settled("posts", post["id"], "reactions_by_kind.insightful", 1)
    await town.settled("posts", post["id"], "counts.reactions", 2)
    got = (await town.client.get(url, headers=bo)).json()
    assert got == {
        "total": 2,
        "by_kind": {**ZERO, "insightful": 1, "thanks": 1},
        "mine": "insightful",
    }
    r = await town.client.delete(url, headers=bo)
    assert r.json() == {"kind": None, "previous_kind": "insightful"}
    r = await town.client.delete(url, headers=bo)  # nothing left to remove
    assert r.status_code == 200 and r.json() == {"kind": None, "previous_kind": None}
    await town.settled("posts", post["id"], "counts.reactions", 1)
    got = (await town.client.get(url, headers=bo)).json()
    assert got == {"total": 1, "by_kind": {**ZERO, "thanks": 1}, "mine": None}


async def test_a_retried_reaction_is_set_once(town: Town) -> None:
    """Reactions are a PUT: a retry, with or without Idempotency-Key (the replay of the first
    response covers POST only), finds the reaction already set and writes nothing."""
    post = await town.post("ana")
    url = f"/api/v1/posts/{post['id']}/reactions"
    headers = {**await town.auth("bo"), "Idempotency-Key": "reaction-1"}
    first = await town.client.put(url, json={"kind": "like"}, headers=headers)
    again = await town.client.put(url, json={"kind": "like"}, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json() == {"kind": "like", "previous_kind": None}
    assert again.json()["kind"] == "like"
    [stored] = await town.store.collection("reactions").find({"target_id": post["id"]})
    assert (stored["kind"], stored["rev"]) == ("like", 1), "the retry wrote nothing"
    await town.settled("posts", post["id"], "counts.reactions", 1)
    got = (await town.client.get(url, headers=headers)).json()
    assert got == {"total": 1, "by_kind": {**ZERO, "like": 1}, "mine": "like"}


async def test_reactions_on_answers_and_comments(town: Town) -> None:
    q = await town.question("ana")
    a = await town.answer("bo", q["id"])
    c = await town.comment("cy", q["id"])
    for target, tid in (("answers", a), ("comments", c)):
        r = await town.client.put(
            f"/api/v1/{target}/{tid}/reactions",
            json={"kind": "celebrate"},
            headers=await town.auth("di"),
        )
        assert r.status_code == 200, r.text
    await town.settled("answers", a, "reactions_by_kind.celebrate", 1)
    doc = await town.settled("comments", c, "counts.reactions", 1)
    assert doc["reactions_by_kind"] == {"celebrate": 1}
    got = await town.client.get(f"/api/v1/answers/{a}/reactions", headers=await town.auth("di"))
    assert got.json()["mine"] == "celebrate" and got.json()["total"] == 1
    stored = await town.doc("reactions", f"answer:{a}:di")
    assert (stored["kind"], stored["audience"]) == ("celebrate", "org")


async def test_concurrent_reactions_by_twenty_people_count_exactly(town: Town) -> None:
    post = await town.post("ana")
    url = f"/api/v1/posts/{post['id']}/reactions"
    users = [f"user{i}" for i in range(20)]
    headers = [await town.auth(u) for u in users]
    kinds = ["like", "insightful", "thanks", "celebrate"]
    responses = await asyncio.gather(
        *(
            town.client.put(url, json={"kind": kinds[i % 4]}, headers=h)
            for i, h in enumerate(headers)
        )
    )
    assert {r.status_code for r in responses} == {200}
    # one person racing with themselves still has one reaction
    responses = await asyncio.gather(
        *(town.client.put(url, json={"kind": k}, headers=headers[0]) for k in kinds)
    )
    assert {r.status_code for r in responses} <= {200, 409}
    last = (await town.client.get(url, headers=headers[0])).json()["mine"]
    expected = {**{k: 5 for k in kinds}}
    expected["like"] -= 1
    expected[last] += 1
    await town.settled("posts", post["id"], "counts.reactions", 20)
    await town.settled("posts", post["id"], "reactions_by_kind", expected)
    assert await town.store.collection("reactions").count({"target_id": post["id"]}) == 20


async def test_a_redelivered_event_is_counted_once(town: Town, settings: CanteenSettings) -> None:
    post = await town.post("ana")
    now = datetime.now(UTC)
    common = {
        "id": f"post:{post['id']}:ghost",
        "target_type": "post",
        "target_id": post["id"],
        "target_author_id": "ana",
        "post_id": post["id"],
        "user_id": "ghost",
        "audience": "org",
        "at": now,
    }
    first = new_event(ReactionSet(kind="like", **common))
    # same key (subject) as `first`: delivered after both copies of it
    sentinel = new_event(ReactionSet(kind="thanks", previous_kind="like", **common))
    bus = make_bus(settings, "test-redelivery", topics=[TOPIC])
    await bus.start()
    try:
        await bus.publish(first, topic=TOPIC)
        await bus.publish(first, topic=TOPIC)
        await bus.publish(sentinel, topic=TOPIC)
    finally:
        await bus.close()
    doc = await town.settled("posts", post["id"], "reactions_by_kind.thanks", 1)
    assert doc["counts"]["reactions"] == 1
    assert doc["reactions_by_kind"] == {"like": 0, "thanks": 1}


async def test_bad_input_is_a_problem_and_writes_nothing(town: Town) -> None:
    post = await town.post("ana")
    headers = await town.auth("bo")
    url = f"/api/v1/posts/{post['id']}/reactions"
    for body in ({}, {"kind": "love"}, {"kind": ""}, {"kind": "like", "x": 1}, {"kind": 1}):
        r = await town.client.put(url, json=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
    r = await town.client.put("/api/v1/widgets/x/reactions", json={"kind": "like"}, headers=headers)
    assert r.status_code in (404, 422)
    for target in ("posts", "answers", "comments"):
        for method in ("GET", "DELETE"):
            r = await town.client.request(
                method, f"/api/v1/{target}/nope/reactions", headers=headers
            )
            assert r.status_code == 404, r.text
        r = await town.client.put(
            f"/api/v1/{target}/nope/reactions", json={"kind": "like"}, headers=headers
        )
        assert r.status_code == 404
    assert await town.store.collection("reactions").count() == 0


async def test_a_write_whose_writer_died_before_relaying_is_counted(town: Town) -> None:
    """The reaction document holds its event in its outbox (as a writer that crashed right
    after its write leaves it): the relay publishes it and the counter catches up, once."""
    post = await town.post("ana")
    now = datetime.now(UTC)
    event = new_event(
        ReactionSet(
            id=f"post:{post['id']}:zed",
            target_type="post",
            target_id=post["id"],
            target_author_id="ana",
            post_id=post["id"],
            user_id="zed",
            audience="org",
            at=now,
            kind="celebrate",
        )
    )
    doc = {
        "_id": f"post:{post['id']}:zed",
        "target_type": "post",
        "target_id": post["id"],
        "user_id": "zed",
        "kind": "celebrate",
        "rev": 1,
        "audience": "org",
        "group_id": None,
        "group_visibility": None,
        "created_at": now,
        "updated_at": now,
    }
    await town.store.collection("reactions").insert_one(insert_with_events(doc, [event]))
    await town.settled("posts", post["id"], "reactions_by_kind.celebrate", 1)
    got = await town.client.get(
        f"/api/v1/posts/{post['id']}/reactions", headers=await town.auth("zed")
    )
    assert got.json() == {"total": 1, "by_kind": {**ZERO, "celebrate": 1}, "mine": "celebrate"}

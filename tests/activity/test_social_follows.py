"""Follows of people and topics: follow, unfollow, lists, counts (exact under redelivery)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.backends import make_bus, make_store
from shared.events.envelope import new_event
from shared.events.schemas.activity import TOPIC
from shared.events.schemas.activity.social import FollowCreated
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.activity.conftest import Login
from tests.support import eventually

PROBLEM = "application/problem+json"


@asynccontextmanager
async def activity_store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    store = make_store(settings, "activity")
    try:
        yield store
    finally:
        await store.close()


def stats_probe(client: httpx.AsyncClient, path: str, auth: dict[str, str]) -> Any:
    async def probe() -> dict[str, int]:
        response = await client.get(path, headers=auth)
        assert response.status_code == 200, response.text
        body: dict[str, int] = response.json()
        return body

    return probe


async def test_follow_a_person_twice_is_one_follow_and_counts_both_sides(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    ana, bo = await login("ana"), await login("bo")
    first = await client.put("/api/v1/follows/people/bo", headers=ana)
    assert first.status_code == 201, first.text
    assert first.json()["target_type"] == "person" and first.json()["target_id"] == "bo"
    again = await client.put("/api/v1/follows/people/bo", headers=ana)
    assert again.status_code == 200
    assert again.json()["created_at"] == first.json()["created_at"]

    followers = (await client.get("/api/v1/follows/people/bo/followers", headers=bo)).json()
    assert [f["follower_id"] for f in followers["items"]] == ["ana"]
    following = (await client.get("/api/v1/follows/people/ana/following", headers=bo)).json()
    assert [(f["target_type"], f["target_id"]) for f in following["items"]] == [("person", "bo")]

    await eventually(
        stats_probe(client, "/api/v1/follows/people/bo/stats", bo),
        until=lambda s: s == {"followers": 1, "following": 0},
    )
    await eventually(
        stats_probe(client, "/api/v1/follows/people/ana/stats", bo),
        until=lambda s: s == {"followers": 0, "following": 1},
    )
    async with activity_store(settings) as store:
        doc = await store.collection("follows").find_one({"_id": "ana:person:bo"})
        assert doc is not None
        assert {k: doc[k] for k in ("follower_id", "target_type", "target_id")} == {
            "follower_id": "ana",
            "target_type": "person",
            "target_id": "bo",
        }
        stats = await store.collection("follow_stats").find_one({"_id": "person:bo"})
        assert stats is not None and (stats["followers"], stats["following"]) == (1, 0)


async def test_unfollow_removes_the_follow_and_uncounts_it(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    ana = await login("ana")
    assert (await client.put("/api/v1/follows/people/bo", headers=ana)).status_code == 201
    await eventually(
        stats_probe(client, "/api/v1/follows/people/bo/stats", ana),
        until=lambda s: s["followers"] == 1,
    )
    gone = await client.delete("/api/v1/follows/people/bo", headers=ana)
    assert gone.status_code == 204
    assert (await client.delete("/api/v1/follows/people/bo", headers=ana)).status_code == 204
    assert (await client.delete("/api/v1/follows/people/zed", headers=ana)).status_code == 204
    listed = (await client.get("/api/v1/follows/people/bo/followers", headers=ana)).json()
    assert listed["items"] == []
    await eventually(
        stats_probe(client, "/api/v1/follows/people/bo/stats", ana),
        until=lambda s: s == {"followers": 0, "following": 0},
    )
    await eventually(
        stats_probe(client, "/api/v1/follows/people/ana/stats", ana),
        until=lambda s: s == {"followers": 0, "following": 0},
    )
    async with activity_store(settings) as store:
        follows = store.collection("follows")
        assert await follows.find({"follower_id": "ana"}) == []

        async def tombstone() -> int:
            return await follows.count({"_id": "ana:person:bo"})

        await eventually(tombstone, until=lambda n: n == 0)

    # Following again after an unfollow is a new follow, counted again.
    assert (await client.put("/api/v1/follows/people/bo", headers=ana)).status_code == 201
    await eventually(
        stats_probe(client, "/api/v1/follows/people/bo/stats", ana),
        until=lambda s: s["followers"] == 1,
    )


async def test_topics_are_normalized_and_listed_with_people(
    client: httpx.AsyncClient, login: Login
) -> None:
    ana, bo = await login("ana"), await login("bo")
    created = await client.put("/api/v1/follows/topics/%23K%C3%BCbernetes", headers=ana)
    assert created.status_code == 201, created.text
    assert created.json()["target_id"] == "kubernetes"
    assert (await client.put("/api/v1/follows/topics/kubernetes", headers=ana)).status_code == 200
    assert (await client.put("/api/v1/follows/topics/Machine_Learning", headers=bo)).json()[
        "target_id"
    ] == "machine-learning"
    assert (await client.put("/api/v1/follows/people/bo", headers=ana)).status_code == 201

    mine = (await client.get("/api/v1/follows/me", headers=ana)).json()["items"]
    assert [(f["target_type"], f["target_id"]) for f in mine] == [
        ("person", "bo"),
        ("topic", "kubernetes"),
    ]
    followers = await client.get("/api/v1/follows/topics/KUBERNETES/followers", headers=bo)
    assert [f["follower_id"] for f in followers.json()["items"]] == ["ana"]
    await eventually(
        stats_probe(client, "/api/v1/follows/topics/kubernetes/stats", bo),
        until=lambda s: s == {"followers": 1, "following": 0},
    )
    assert (
        await client.delete("/api/v1/follows/topics/%23kubernetes", headers=ana)
    ).status_code == 204
    assert (await client.get("/api/v1/follows/topics/kubernetes/followers", headers=bo)).json()[
        "items"
    ] == []


async def test_lists_page_newest_first_with_cursors(
    client: httpx.AsyncClient, login: Login
) -> None:
    ana = await login("ana")
    for name in ("p1", "p2", "p3"):
        follower = await login(name)
        assert (await client.put("/api/v1/follows/people/ana", headers=follower)).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/v1/follows/people/ana/followers", params=params, headers=ana)
        assert page.status_code == 200, page.text
        seen += [f["follower_id"] for f in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["p3", "p2", "p1"]
    bad = await client.get(
        "/api/v1/follows/people/ana/followers", params={"cursor": "forged"}, headers=ana
    )
    assert bad.status_code == 400 and bad.headers["content-type"].startswith(PROBLEM)


async def test_bad_follows_are_problems_and_write_nothing(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    ana = await login("ana")
    for response in [
        await client.put("/api/v1/follows/people/ana", headers=ana),
        await client.put("/api/v1/follows/topics/%23%23%23", headers=ana),
        await client.put("/api/v1/follows/topics/%20_%20", headers=ana),
        await client.put("/api/v1/follows/people/" + "x" * 200, headers=ana),
        await client.get("/api/v1/follows/topics/%23/stats", headers=ana),
    ]:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.put("/api/v1/follows/people/bo")).status_code == 401
    async with activity_store(settings) as store:
        assert await store.collection("follows").count() == 0


async def test_counts_stay_exact_when_an_event_is_delivered_twice(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    auth = await login("obs")
    now = datetime.now(UTC)
    payload = FollowCreated(
        id="cy:person:dee", follower_id="cy", target_type="person", target_id="dee", created_at=now
    )
    first, later = new_event(payload), new_event(payload)
    bus = make_bus(settings, "test-redelivery", topics=[TOPIC])
    await bus.start()
    try:
        # The same event twice (a redelivery), then another one under the same key: once the
        # count shows the later one, both copies of the first were handled before it.
        await bus.publish(first, topic=TOPIC)
        await bus.publish(first, topic=TOPIC)
        await bus.publish(later, topic=TOPIC)
    finally:
        await bus.close()
    stats = await eventually(
        stats_probe(client, "/api/v1/follows/people/dee/stats", auth),
        until=lambda s: s["followers"] >= 2,
    )
    assert stats == {"followers": 2, "following": 0}
    follower = await stats_probe(client, "/api/v1/follows/people/cy/stats", auth)()
    assert follower == {"followers": 0, "following": 2}

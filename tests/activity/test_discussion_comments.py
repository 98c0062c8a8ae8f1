"""Comments: one level of replies, deletion with placeholders, counts on the post."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_discussion_support import (
    PROBLEM,
    Town,
    activity_store,
)


@pytest.fixture
async def town(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> AsyncIterator[Town]:
    async with activity_store(settings) as store:
        yield Town(client, login, store)


async def test_comments_and_one_level_of_replies(town: Town) -> None:
    post = await town.post("ana", "Lunch talk on Friday")
    c1 = await town.comment("bo", post["id"], "I'll **be** there")
    r1 = await town.comment("ana", post["id"], "great", parent_id=c1)
    c2 = await town.comment("cy", post["id"], "me too")
    deeper = await town.client.post(
        f"/api/v1/posts/{post['id']}/comments",
        json={"text": "too deep", "parent_id": r1},
        headers=await town.auth("cy"),
    )
    assert deeper.status_code == 422
    assert deeper.headers["content-type"].startswith(PROBLEM)
    listed = await town.client.get(
        f"/api/v1/posts/{post['id']}/comments", headers=await town.auth("di")
    )
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [(c["id"], c["parent_id"]) for c in items] == [(c1, None), (r1, c1), (c2, None)]
    assert "<strong>be</strong>" in items[0]["body_html"]
    stored = await town.doc("comments", r1)
    assert stored["post_author_id"] == "ana" and stored["audience"] == "org"
    await town.settled("posts", post["id"], "counts.comments", 3)


async def test_comment_pages_oldest_first(town: Town) -> None:
    post = await town.post("ana")
    ids = [await town.comment("bo", post["id"], f"c{i}") for i in range(5)]
    headers = await town.auth("bo")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await town.client.get(
            f"/api/v1/posts/{post['id']}/comments", params=params, headers=headers
        )
        seen += [c["id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


async def test_delete_keeps_a_placeholder_only_when_there_are_replies(town: Town) -> None:
    post = await town.post("ana")
    lonely = await town.comment("bo", post["id"], "lonely")
    parent = await town.comment("bo", post["id"], "parent")
    reply = await town.comment("cy", post["id"], "reply", parent_id=parent)
    await town.settled("posts", post["id"], "counts.comments", 3)
    # not the post's author, not another user: only the author or a moderator
    for other in ("ana", "cy"):
        r = await town.client.delete(f"/api/v1/comments/{lonely}", headers=await town.auth(other))
        assert r.status_code == 403
    assert (
        await town.client.delete(f"/api/v1/comments/{lonely}", headers=await town.auth("bo"))
    ).status_code == 204
    assert (
        await town.client.delete(f"/api/v1/comments/{parent}", headers=await town.auth("admin1"))
    ).status_code == 204
    listed = await town.client.get(
        f"/api/v1/posts/{post['id']}/comments", headers=await town.auth("ana")
    )
    items = listed.json()["items"]
    assert [c["id"] for c in items] == [parent, reply]
    assert items[0]["deleted"] is True and items[0]["text"] == "[deleted]"
    assert items[0]["author_id"] is None and "parent" not in items[0]["body_html"]
    await town.settled("posts", post["id"], "counts.comments", 1)
    again = await town.client.delete(f"/api/v1/comments/{lonely}", headers=await town.auth("bo"))
    assert again.status_code == 404
    r = await town.client.post(
        f"/api/v1/posts/{post['id']}/comments",
        json={"text": "to a deleted one", "parent_id": parent},
        headers=await town.auth("cy"),
    )
    assert r.status_code == 422


async def test_bad_input_is_a_problem_and_writes_nothing(town: Town) -> None:
    post = await town.post("ana")
    other = await town.post("ana", "other")
    foreign = await town.comment("bo", other["id"])
    headers = await town.auth("bo")
    url = f"/api/v1/posts/{post['id']}/comments"
    bad = [
        town.client.post(url, json={}, headers=headers),
        town.client.post(url, json={"text": ""}, headers=headers),
        town.client.post(url, json={"text": "  "}, headers=headers),
        town.client.post(url, json={"text": "x" * 10_001}, headers=headers),
        town.client.post(url, json={"text": "x", "author_id": "eve"}, headers=headers),
        town.client.post(url, json={"text": "x", "parent_id": "nope"}, headers=headers),
        town.client.post(url, json={"text": "x", "parent_id": foreign}, headers=headers),
    ]
    for request in bad:
        r = await request
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
    for r in (
        await town.client.post("/api/v1/posts/nope/comments", json={"text": "x"}, headers=headers),
        await town.client.get("/api/v1/posts/nope/comments", headers=headers),
        await town.client.delete("/api/v1/comments/nope", headers=headers),
    ):
        assert r.status_code == 404, r.text
    assert await town.store.collection("comments").count() == 1

"""Comments: one level of replies, deletion with placeholders, counts on the post."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.activity.directory import Directory
from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_discussion_support import (
    PROBLEM,
    Town,
    activity_store,
)
from tests.activity.test_posts_support import person, publish
from tests.support import eventually


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


async def test_comments_show_their_authors_from_the_directory_read_once_per_page(
    town: Town, settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bo's person event has arrived: his name shows; Cy's has not: his user id does."""
    await publish(settings, person("bo", "bo", "Bo Berg"))
    await eventually(lambda: town.store.collection("people").find_one({"_id": "bo"}))
    bo_shown = {"id": "bo", "handle": "bo", "display_name": "Bo Berg", "avatar_url": None}
    cy_shown = {"id": "cy", "handle": None, "display_name": "cy", "avatar_url": None}
    post = await town.post("ana")
    url = f"/api/v1/posts/{post['id']}/comments"
    created = await town.client.post(url, json={"text": "mine"}, headers=await town.auth("bo"))
    assert created.status_code == 201, created.text
    assert created.json()["author"] == bo_shown
    parent = created.json()["id"]
    reply = await town.comment("cy", post["id"], "reply", parent_id=parent)
    one = await town.client.get(f"/api/v1/comments/{reply}", headers=await town.auth("ana"))
    assert one.status_code == 200, one.text
    assert one.json()["author"] == cy_shown

    lookups: list[list[str]] = []
    people = Directory.people

    async def counted(self: Directory, user_ids: Any) -> dict[str, dict[str, Any]]:
        ids = list(user_ids)
        lookups.append(ids)
        return await people(self, ids)

    monkeypatch.setattr(Directory, "people", counted)
    listed = await town.client.get(url, headers=await town.auth("ana"))
    assert [c["author"] for c in listed.json()["items"]] == [bo_shown, cy_shown]
    assert [sorted(ids) for ids in lookups] == [["bo", "cy"]], "one lookup per page"
    # a deleted comment kept for its reply shows no author at all
    await town.client.delete(f"/api/v1/comments/{parent}", headers=await town.auth("bo"))
    listed = await town.client.get(url, headers=await town.auth("ana"))
    assert [c["author"] for c in listed.json()["items"]] == [None, cy_shown]


async def test_a_retried_comment_is_created_once(town: Town) -> None:
    post = await town.post("ana")
    headers = {**await town.auth("bo"), "Idempotency-Key": "comment-1"}
    url = f"/api/v1/posts/{post['id']}/comments"
    first = await town.client.post(url, json={"text": "once"}, headers=headers)
    again = await town.client.post(url, json={"text": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await town.store.collection("comments").count({"post_id": post["id"]}) == 1
    other = await town.client.post(url, json={"text": "twice?"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith(PROBLEM)
    await town.settled("posts", post["id"], "counts.comments", 1)

"""Feed journeys over HTTP: follow, edit, delete, unfollow, join, leave, a follow's backfill.

Every step goes through the public routes, then the outbox, the bus and the `activity.feeds`
consumer, to the pages people read (the other feeds tests write the store and publish
hand-built events instead). People get ids of their own per test, so nothing another run
left on a shared engine can show up in their feeds.

A post's events are keyed by the post, so another post's fan-out says nothing about its
progress. What does: its author's own home entry, which the fan-out writes last (its mark
of a finished fan-out, `feeds/entries.py`). Absences are asserted only once that is seen.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.activity.conftest import Login
from tests.support import eventually

PROBLEM = "application/problem+json"
FEEDS = "/api/v1/feeds"
HOME = "home"


class Cast:
    """People of one test, named in the test and given ids no other run uses."""

    def __init__(self, client: httpx.AsyncClient, login: Login) -> None:
        self.client = client
        self._login = login
        self._run = uuid.uuid4().hex[:10]
        self._headers: dict[str, dict[str, str]] = {}

    def id(self, name: str) -> str:
        return f"{name}-{self._run}"

    async def auth(self, name: str) -> dict[str, str]:
        if name not in self._headers:
            self._headers[name] = await self._login(self.id(name))
        return self._headers[name]

    async def post(self, name: str, text: str, *, group: str | None = None) -> str:
        body: dict[str, Any] = {"body_md": text, "group_id": group}
        response = await self.client.post("/api/v1/posts", json=body, headers=await self.auth(name))
        assert response.status_code == 201, response.text
        post_id: str = response.json()["id"]
        return post_id

    async def follow(self, name: str, whom: str) -> None:
        url = f"/api/v1/follows/people/{self.id(whom)}"
        response = await self.client.put(url, headers=await self.auth(name))
        assert response.status_code == 201, response.text

    async def unfollow(self, name: str, whom: str) -> None:
        url = f"/api/v1/follows/people/{self.id(whom)}"
        response = await self.client.delete(url, headers=await self.auth(name))
        assert response.status_code == 204, response.text

    async def feed(
        self, name: str, path: str, *, limit: int = 20, **headers: str
    ) -> httpx.Response:
        return await self.client.get(
            f"{FEEDS}/{path}", params={"limit": limit}, headers={**await self.auth(name), **headers}
        )

    async def texts(self, name: str, path: str, *, limit: int = 20) -> list[str]:
        response = await self.feed(name, path, limit=limit)
        assert response.status_code == 200, response.text
        return [item["text"] for item in response.json()["items"]]

    async def until(self, name: str, path: str, expected: list[str], *, limit: int = 20) -> None:
        """Wait until `name`'s feed page at `path` is exactly `expected` (newest first)."""
        await eventually(lambda: self.texts(name, path, limit=limit), until=lambda t: t == expected)

    async def fanned_out(self, author: str, text: str) -> None:
        """Wait until `author`'s post is in their own home: its fan-out is done."""
        await eventually(lambda: self.texts(author, HOME), until=lambda t: text in t)


async def test_a_followers_home_shows_the_edit_and_loses_the_deleted_post(
    client: httpx.AsyncClient, login: Login
) -> None:
    cast = Cast(client, login)
    await cast.follow("bo", "ana")
    await cast.post("ana", "older")
    post_id = await cast.post("ana", "first draft")
    await cast.until("bo", HOME, ["first draft", "older"])
    before = (await cast.feed("bo", HOME)).headers["etag"]

    edited = await client.patch(
        f"/api/v1/posts/{post_id}", json={"body_md": "final words"}, headers=await cast.auth("ana")
    )
    assert edited.status_code == 200, edited.text
    await cast.until("bo", HOME, ["final words", "older"])
    fresh = await cast.feed("bo", HOME, **{"If-None-Match": before})
    assert fresh.status_code == 200  # the old validator no longer matches the page
    assert fresh.headers["etag"] != before
    item = fresh.json()["items"][0]
    assert (item["id"], item["text"], item["revision"]) == (post_id, "final words", 1)
    unchanged = await cast.feed("bo", HOME, **{"If-None-Match": fresh.headers["etag"]})
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    deleted = await client.delete(f"/api/v1/posts/{post_id}", headers=await cast.auth("ana"))
    assert deleted.status_code == 204, deleted.text
    await cast.until("bo", HOME, ["older"])
    # Pages read the posts again and leave a deleted one out; a full one-item page shows
    # that the consumer also removed the entry (one left behind would make the page empty).
    await cast.until("bo", HOME, ["older"], limit=1)
    person = f"people/{cast.id('ana')}"
    assert await cast.texts("bo", person) == ["older"]
    assert await cast.texts("ana", person) == ["older"]
    await cast.until("ana", HOME, ["older"], limit=1)


async def test_unfollowing_takes_the_persons_posts_out_of_home(
    client: httpx.AsyncClient, login: Login
) -> None:
    cast = Cast(client, login)
    await cast.follow("bo", "ana")
    await cast.follow("bo", "dee")
    await cast.post("ana", "ana before")
    await cast.post("dee", "dee before")
    await cast.until("bo", HOME, ["dee before", "ana before"])

    await cast.unfollow("bo", "ana")
    # The unfollow drops the entries no other source still brings (`FanOut.unfollowed`);
    # home pages read entries, not follows, so this is the consumer's doing.
    await cast.until("bo", HOME, ["dee before"])
    await cast.post("ana", "ana after")
    await cast.post("dee", "dee after")
    await cast.fanned_out("ana", "ana after")
    await cast.fanned_out("dee", "dee after")
    assert await cast.texts("bo", HOME) == ["dee after", "dee before"]
    # Still there for whoever asks for Ana's posts.
    assert await cast.texts("bo", f"people/{cast.id('ana')}") == ["ana after", "ana before"]


async def test_joining_and_leaving_a_private_group_moves_its_posts_in_and_out(
    client: httpx.AsyncClient, login: Login
) -> None:
    cast = Cast(client, login)
    created = await client.post(
        "/api/v1/groups",
        json={
            "name": "Guild",
            "slug": cast.id("guild"),
            "visibility": "private",
            "join_policy": "invite",
        },
        headers=await cast.auth("ana"),
    )
    assert created.status_code == 201, created.text
    gid = created.json()["id"]
    group = f"groups/{gid}"
    await cast.post("ana", "before bo joined", group=gid)
    await cast.follow("bo", "ana")  # following the author opens no private group
    await cast.post("ana", "org news")
    await cast.until("bo", HOME, ["org news"])
    assert (await cast.feed("bo", group)).status_code == 404

    # A private group is joined by invitation only (a non-member cannot even see it).
    invited = await client.post(
        f"/api/v1/{group}/invitations",
        json={"user_id": cast.id("bo")},
        headers=await cast.auth("ana"),
    )
    assert invited.status_code == 201, invited.text
    accepted = await client.post(
        f"/api/v1/{group}/invitations/accept", headers=await cast.auth("bo")
    )
    assert accepted.status_code == 200, accepted.text
    # Joining backfills the group's earlier posts; later ones are fanned out to members.
    await cast.until("bo", HOME, ["org news", "before bo joined"])
    await cast.post("ana", "after bo joined", group=gid)
    await cast.until("bo", HOME, ["after bo joined", "org news", "before bo joined"])
    assert await cast.texts("bo", group) == ["after bo joined", "before bo joined"]

    left = await client.post(f"/api/v1/{group}/leave", headers=await cast.auth("bo"))
    assert left.status_code == 204, left.text
    await cast.until("bo", HOME, ["org news"])
    hidden = await cast.feed("bo", group)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith(PROBLEM)
    assert await cast.texts("bo", f"people/{cast.id('ana')}") == ["org news"]
    assert await cast.texts("ana", group) == ["after bo joined", "before bo joined"]


async def test_a_new_follow_backfills_the_persons_recent_posts(
    client: httpx.AsyncClient, login: Login
) -> None:
    cast = Cast(client, login)
    for text in ("one", "two", "three"):
        await cast.post("ana", text)
    # Fanned out before the follow: only the follow's backfill can bring them to Cy.
    await cast.until("ana", HOME, ["three", "two", "one"])
    assert await cast.texts("cy", HOME) == []

    await cast.follow("cy", "ana")
    await cast.until("cy", HOME, ["three", "two", "one"])
    await cast.post("ana", "four")
    await cast.until("cy", HOME, ["four", "three", "two", "one"])

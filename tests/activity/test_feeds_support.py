"""A small world for the feed tests: documents written straight into the activity store and
events published on the bus, as the posts, social and groups features would.

Feeds only read those features' collections and consume their events, so the tests
build both by hand and stay independent of the other features' routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.backends import make_bus, make_store
from shared.events import Event
from shared.events.envelope import EventData, new_event
from shared.events.schemas.activity import TOPIC
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostUpdated
from shared.events.schemas.activity.social import FollowCreated, FollowRemoved, MembershipChanged
from shared.ids import new_id
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.conftest import Login
from tests.support import eventually

PROBLEM = "application/problem+json"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class World:
    def __init__(
        self, client: httpx.AsyncClient, login: Login, store: DocumentStore, bus: Any
    ) -> None:
        self.client = client
        self.store = store
        self._login = login
        self._bus = bus
        self._headers: dict[str, dict[str, str]] = {}
        self._clock = 0
        self.groups: dict[str, str] = {}

    async def auth(self, user: str) -> dict[str, str]:
        if user not in self._headers:
            roles = ["admin"] if user.startswith("admin") else []
            self._headers[user] = await self._login(user, roles=roles)
        return self._headers[user]

    async def publish(self, payload: EventData | Event) -> Event:
        event = payload if isinstance(payload, Event) else new_event(payload)
        await self._bus.publish(event, topic=TOPIC)
        return event

    def tick(self) -> datetime:
        self._clock += 1
        return T0 + timedelta(seconds=self._clock)

    # -- posts -----------------------------------------------------------------------

    async def post(
        self,
        author: str,
        text: str,
        *,
        kind: str = "note",
        topics: list[str] | None = None,
        group: str | None = None,
        pinned: bool = False,
        publish: bool = True,
    ) -> str:
        post_id = new_id()
        visibility = self.groups.get(group) if group else None
        doc = {
            "_id": post_id,
            "kind": kind,
            "author_id": author,
            "audience": "group" if group else "org",
            "group_id": group,
            "group_visibility": visibility,
            "title": text if kind in ("question", "article") else None,
            "body_md": text,
            "body_html": f"<p>{text}</p>",
            "text": text,
            "url": None,
            "resource_type": None,
            "tags": topics or [],
            "topics": topics or [],
            "mentions": [],
            "created_at": self.tick(),
            "edited_at": None,
            "revision": 0,
            "deleted": False,
            "pinned": pinned,
            "counts": {"comments": 0, "reactions": 0, "answers": 0},
            "reactions_by_kind": {},
            **({"state": "open", "accepted_answer_id": None} if kind == "question" else {}),
        }
        await self.store.collection("posts").insert_one(doc)
        if publish:
            await self.publish(self.created_event(doc))
        return post_id

    @staticmethod
    def created_event(doc: dict[str, Any]) -> PostCreated:
        return PostCreated(
            id=doc["_id"],
            kind=doc["kind"],
            author_id=doc["author_id"],
            audience=doc["audience"],
            group_id=doc["group_id"],
            group_visibility=doc["group_visibility"],
            title=doc["title"],
            text=doc["text"],
            topics=doc["topics"],
            created_at=doc["created_at"],
        )

    async def edit(self, post_id: str, *, topics: list[str], text: str = "edited") -> None:
        posts = self.store.collection("posts")
        doc = await posts.find_one_and_update(
            {"_id": post_id},
            {
                "$set": {"topics": topics, "text": text, "edited_at": self.tick()},
                "$inc": {"revision": 1},
            },
        )
        assert doc is not None
        await self.publish(
            PostUpdated(
                id=post_id,
                kind=doc["kind"],
                author_id=doc["author_id"],
                editor_id=doc["author_id"],
                audience=doc["audience"],
                group_id=doc["group_id"],
                group_visibility=doc["group_visibility"],
                text=text,
                topics=topics,
                revision=doc["revision"],
                edited_at=doc["edited_at"],
            )
        )

    async def delete(self, post_id: str) -> None:
        posts = self.store.collection("posts")
        doc = await posts.find_one_and_update({"_id": post_id}, {"$set": {"deleted": True}})
        assert doc is not None
        await self.publish(
            PostDeleted(
                id=post_id,
                kind=doc["kind"],
                author_id=doc["author_id"],
                deleted_by=doc["author_id"],
                audience=doc["audience"],
                group_id=doc["group_id"],
                deleted_at=self.tick(),
            )
        )

    # -- follows and groups -----------------------------------------------------------

    async def follow(
        self, follower: str, target_type: str, target_id: str, *, publish: bool = True
    ) -> None:
        follow_id = f"{follower}:{target_type}:{target_id}"
        await self.store.collection("follows").insert_one(
            {
                "_id": follow_id,
                "follower_id": follower,
                "target_type": target_type,
                "target_id": target_id,
                "created_at": self.tick(),
            }
        )
        await self.store.collection("follow_stats").update_one(
            {"_id": f"{target_type}:{target_id}"}, {"$inc": {"followers": 1}}, upsert=True
        )
        if publish:
            await self.publish(
                FollowCreated(
                    id=follow_id,
                    follower_id=follower,
                    target_type=target_type,
                    target_id=target_id,
                    created_at=self.tick(),
                )
            )

    async def unfollow(self, follower: str, target_type: str, target_id: str) -> None:
        follow_id = f"{follower}:{target_type}:{target_id}"
        assert await self.store.collection("follows").delete_one({"_id": follow_id}) == 1
        await self.store.collection("follow_stats").update_one(
            {"_id": f"{target_type}:{target_id}"}, {"$inc": {"followers": -1}}
        )
        await self.publish(
            FollowRemoved(
                id=follow_id,
                follower_id=follower,
                target_type=target_type,
                target_id=target_id,
                created_at=self.tick(),
            )
        )

    async def group(self, group_id: str, visibility: str, members: list[str]) -> None:
        self.groups[group_id] = visibility
        await self.store.collection("groups").insert_one(
            {
                "_id": group_id,
                "slug": group_id,
                "name": group_id.title(),
                "visibility": visibility,
                "join_policy": "open" if visibility == "public" else "invite",
                "deleted": False,
                "member_count": 0,
            }
        )
        for user in members:
            await self.join(user, group_id, publish=False)

    async def join(self, user: str, group_id: str, *, publish: bool = True) -> None:
        await self.store.collection("memberships").update_one(
            {"_id": f"{group_id}:{user}"},
            {"$set": {"group_id": group_id, "user_id": user, "role": "member", "state": "active"}},
            upsert=True,
        )
        await self.store.collection("groups").update_one(
            {"_id": group_id}, {"$inc": {"member_count": 1}}
        )
        if publish:
            await self.publish(self._membership(user, group_id, "joined", "active", "none"))

    async def leave(self, user: str, group_id: str, change: str = "left") -> None:
        await self.store.collection("memberships").delete_one({"_id": f"{group_id}:{user}"})
        await self.store.collection("groups").update_one(
            {"_id": group_id}, {"$inc": {"member_count": -1}}
        )
        await self.publish(self._membership(user, group_id, change, "none", "active"))

    def _membership(
        self, user: str, group_id: str, change: str, state: str, previous: str
    ) -> MembershipChanged:
        return MembershipChanged.model_validate(
            {
                "group_id": group_id,
                "user_id": user,
                "change": change,
                "state": state,
                "previous_state": previous,
                "role": "member" if state == "active" else None,
                "actor_id": user,
                "group_visibility": self.groups[group_id],
                "group_slug": group_id,
                "group_name": group_id.title(),
                "changed_at": self.tick(),
            }
        )

    # -- reads -------------------------------------------------------------------------

    async def feed(self, user: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(
            f"/api/v1/feeds/{path}", params=params, headers=await self.auth(user)
        )

    async def texts(self, user: str, path: str = "home", **params: Any) -> list[str]:
        response = await self.feed(user, path, **params)
        assert response.status_code == 200, response.text
        return [item["text"] for item in response.json()["items"]]

    async def all_texts(self, user: str, path: str = "home", limit: int = 3) -> list[str]:
        """Every page of a feed, following cursors."""
        out: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            response = await self.feed(user, path, **params)
            assert response.status_code == 200, response.text
            body = response.json()
            out += [item["text"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return out

    async def eventually_home(self, user: str, expected: list[str], **params: Any) -> None:
        await eventually(lambda: self.texts(user, **params), until=lambda t: t == expected)

    async def entries(self, filter: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.store.collection("timelines").find(filter)


@asynccontextmanager
async def open_world(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> AsyncIterator[World]:
    store = make_store(settings, "activity")
    bus = make_bus(settings, "test-feeds", topics=[TOPIC])
    await bus.start()
    try:
        yield World(client, login, store, bus)
    finally:
        await bus.close()
        await store.close()

"""Helpers for the questions and discussion tests (no tests here).

Questions and posts go through `POST /api/v1/posts`; groups, memberships and follows are
written straight into the activity store, as the groups and social features would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.backends import make_store
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


class Town:
    """People, groups and posts for a test; `town.auth("ana")` -> headers."""

    def __init__(self, client: httpx.AsyncClient, login: Login, store: DocumentStore) -> None:
        self.client = client
        self.store = store
        self._login = login
        self._headers: dict[str, dict[str, str]] = {}

    async def auth(self, user: str) -> dict[str, str]:
        if user not in self._headers:
            roles = ["admin"] if user.startswith("admin") else []
            self._headers[user] = await self._login(user, roles=roles)
        return self._headers[user]

    async def group(self, group_id: str, visibility: str, members: dict[str, str]) -> None:
        """A group and its active members ({user: owner|admin|member})."""
        now = datetime.now(UTC)
        await self.store.collection("groups").insert_one(
            {
                "_id": group_id,
                "slug": group_id,
                "name": group_id.title(),
                "visibility": visibility,
                "join_policy": "open" if visibility == "public" else "invite",
                "deleted": False,
                "created_at": now,
            }
        )
        for user, role in members.items():
            await self.store.collection("memberships").insert_one(
                {
                    "_id": f"{group_id}:{user}",
                    "group_id": group_id,
                    "user_id": user,
                    "role": role,
                    "state": "active",
                    "created_at": now,
                }
            )

    async def follow_topic(self, user: str, topic: str) -> None:
        await self.store.collection("follows").insert_one(
            {
                "_id": f"{user}:topic:{topic}",
                "follower_id": user,
                "target_type": "topic",
                "target_id": topic,
                "created_at": datetime.now(UTC),
            }
        )

    async def post(
        self,
        author: str,
        body: str = "A note",
        *,
        kind: str = "note",
        title: str | None = None,
        tags: list[str] | None = None,
        group: str | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"kind": kind, "body_md": body, "tags": tags or []}
        if title is not None:
            payload["title"] = title
        if group is not None:
            payload["group_id"] = group
        response = await self.client.post(
            "/api/v1/posts", json=payload, headers=await self.auth(author)
        )
        assert response.status_code == 201, response.text
        post: dict[str, Any] = response.json()
        return post

    async def question(
        self,
        author: str,
        title: str = "How do I rotate secrets?",
        *,
        tags: list[str] | None = None,
        group: str | None = None,
    ) -> dict[str, Any]:
        return await self.post(
            author, f"{title} Details.", kind="question", title=title, tags=tags, group=group
        )

    async def answer(self, user: str, question_id: str, text: str = "Use a vault.") -> str:
        response = await self.client.post(
            f"/api/v1/questions/{question_id}/answers",
            json={"text": text},
            headers=await self.auth(user),
        )
        assert response.status_code == 201, response.text
        answer_id: str = response.json()["id"]
        return answer_id

    async def comment(
        self, user: str, post_id: str, text: str = "Nice", parent_id: str | None = None
    ) -> str:
        body: dict[str, Any] = {"text": text}
        if parent_id is not None:
            body["parent_id"] = parent_id
        response = await self.client.post(
            f"/api/v1/posts/{post_id}/comments", json=body, headers=await self.auth(user)
        )
        assert response.status_code == 201, response.text
        comment_id: str = response.json()["id"]
        return comment_id

    async def doc(self, collection: str, doc_id: str) -> dict[str, Any]:
        found = await self.store.collection(collection).find_one({"_id": doc_id})
        assert found is not None, f"{collection}/{doc_id} missing"
        return found

    async def settled(
        self, collection: str, doc_id: str, path: str, expected: Any, within: float = 30
    ) -> dict[str, Any]:
        """Wait until a counter (dotted `path`) of a document reaches `expected`."""

        async def probe() -> dict[str, Any]:
            return await self.doc(collection, doc_id)

        return await eventually(probe, until=lambda d: _get(d, path) == expected, within=within)


def _get(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def get_path(doc: dict[str, Any], path: str) -> Any:
    return _get(doc, path)


async def no_pending_outbox(store: DocumentStore, collections: list[str]) -> bool:
    for name in collections:
        if await store.collection(name).find_one({"_outbox_pending": True}):
            return False
    return True

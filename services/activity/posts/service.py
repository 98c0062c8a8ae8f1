"""Activity's use cases: what a route asks for, in domain terms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.activity.posts.domain import NewPost, create_post
from services.activity.posts.repository import PostRepository

log = structlog.get_logger()


class PostService:
    def __init__(self, repo: PostRepository, *, on_events: Callable[[], None]) -> None:
        self._repo = repo
        self._on_events = on_events

    async def publish(self, cmd: NewPost, *, author_id: str) -> dict[str, Any]:
        doc, event = create_post(cmd, author_id=author_id, now=datetime.now(UTC))
        await self._repo.add(doc, [event])
        self._on_events()
        log.info("activity.post.created", post_id=doc["_id"], kind=doc["kind"])
        return doc

    async def get(self, post_id: str) -> dict[str, Any] | None:
        return await self._repo.get(post_id)

    async def org_feed(self, *, limit: int, after: dict[str, Any] | None) -> list[dict[str, Any]]:
        return await self._repo.org_feed(limit=limit, after=after)

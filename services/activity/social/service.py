"""Follow use cases: follow, unfollow, lists, counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.activity.social import domain
from services.activity.social.domain import TargetType
from services.activity.social.repository import FollowRepository

log = structlog.get_logger()


def _now() -> datetime:
    """Now, to the millisecond: what the store keeps, so responses match later reads."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class FollowService:
    def __init__(self, repo: FollowRepository, *, on_events: Callable[[], None]) -> None:
        self._repo = repo
        self._on_events = on_events

    async def follow(
        self, follower_id: str, target_type: TargetType, target_id: str
    ) -> tuple[dict[str, Any], bool]:
        """The follow, and whether this call created it (following twice is one follow)."""
        doc, event = domain.new_follow(follower_id, target_type, target_id, now=_now())
        created = await self._repo.add(doc, event)
        if created:
            self._on_events()
            log.info("activity.follow.created", follow_id=doc["_id"], target_type=target_type)
            return doc, True
        existing = await self._repo.get(doc["_id"])
        return existing or doc, False

    async def unfollow(self, follower_id: str, target_type: TargetType, target_id: str) -> bool:
        now = _now()
        fid = domain.follow_id(follower_id, target_type, target_id)
        removed = await self._repo.remove(
            fid, domain.removal(follower_id, target_type, target_id, now=now), now=now
        )
        if removed:
            self._on_events()
            log.info("activity.follow.removed", follow_id=fid, target_type=target_type)
        return removed

    async def followers(
        self, target_type: TargetType, target_id: str, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        return await self._repo.page(
            {"target_type": target_type, "target_id": target_id}, limit=limit, after=after
        )

    async def following(
        self, follower_id: str, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        return await self._repo.page({"follower_id": follower_id}, limit=limit, after=after)

    async def stats(self, target_type: TargetType, target_id: str) -> dict[str, int]:
        return await self._repo.stats(domain.stats_id(target_type, target_id))

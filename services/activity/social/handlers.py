"""The social consumer (`activity.social`): follower counts, exact under redelivery."""

from __future__ import annotations

import structlog

from services.activity.social import domain
from services.activity.social.repository import FollowRepository
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.activity.social import FollowCreated, FollowRemoved

log = structlog.get_logger()


def build_dispatcher(repo: FollowRepository) -> EventDispatcher:
    dispatcher = EventDispatcher(registry)

    async def count(event: Event, data: FollowCreated | FollowRemoved, sign: int) -> None:
        for sid, counter, delta in domain.stats_deltas(
            data.target_type, data.follower_id, data.target_id, sign
        ):
            if not await repo.apply_delta(sid, counter, delta, event.id):
                log.info("activity.follow_stats.duplicate", event_id=event.id, stats_id=sid)

    @dispatcher.on(FollowCreated)
    async def on_created(event: Event, data: FollowCreated) -> None:
        """Count a new follow on both sides."""
        await count(event, data, +1)

    @dispatcher.on(FollowRemoved)
    async def on_removed(event: Event, data: FollowRemoved) -> None:
        """Uncount a removed follow on both sides, then drop its relayed tombstone."""
        await count(event, data, -1)
        await repo.purge_tombstone(data.id)

    return dispatcher

"""Counters of comments and reactions, kept by an idempotent consumer of their events."""

from __future__ import annotations

from services.activity.discussion.counters import apply_once, reaction_deltas
from services.activity.discussion.repository import DiscussionRepository
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.activity.discussion import (
    CommentCreated,
    CommentDeleted,
    ReactionRemoved,
    ReactionSet,
)


def build_dispatcher(repo: DiscussionRepository) -> EventDispatcher:
    dispatcher = EventDispatcher(registry)
    posts = repo.target_collection("post")

    @dispatcher.on(CommentCreated)
    async def comment_created(event: Event, data: CommentCreated) -> None:
        """One more comment on the post."""
        await apply_once(posts, data.post_id, event.id, {"counts.comments": 1})

    @dispatcher.on(CommentDeleted)
    async def comment_deleted(event: Event, data: CommentDeleted) -> None:
        """One comment fewer on the post."""
        await apply_once(posts, data.post_id, event.id, {"counts.comments": -1})

    @dispatcher.on(ReactionSet)
    async def reaction_set(event: Event, data: ReactionSet) -> None:
        """The target's reaction counters follow the change of kind."""
        target = repo.target_collection(data.target_type)
        deltas = reaction_deltas(data.kind, data.previous_kind)
        await apply_once(target, data.target_id, event.id, deltas)

    @dispatcher.on(ReactionRemoved)
    async def reaction_removed(event: Event, data: ReactionRemoved) -> None:
        """The target's reaction counters lose the removed kind."""
        target = repo.target_collection(data.target_type)
        await apply_once(
            target, data.target_id, event.id, reaction_deltas(None, data.previous_kind)
        )

    return dispatcher

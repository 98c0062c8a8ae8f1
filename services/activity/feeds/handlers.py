"""The `activity.feeds` consumer: posts, follows and memberships, into home timelines.

Every handler is idempotent: entries have deterministic ids (a duplicate insert is
skipped), removals and refreshes converge whatever the number of deliveries, and the
audience lists add and remove conditionally (see `audiences.py`).
"""

from __future__ import annotations

from services.activity.feeds.fanout import FanOut
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.activity.discussion import AnswerAccepted
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostUpdated
from shared.events.schemas.activity.social import (
    FollowCreated,
    FollowRemoved,
    GroupCreated,
    GroupDeleted,
    GroupUpdated,
    MembershipChanged,
)

JOINS = frozenset({"joined", "approved", "invite_accepted"})
LEAVES = frozenset({"left", "removed"})


def build_dispatcher(fanout: FanOut) -> EventDispatcher:
    dispatcher = EventDispatcher(registry)

    @dispatcher.on(PostCreated)
    async def on_post_created(event: Event, data: PostCreated) -> None:
        """Fan the post out to the timelines it reaches."""
        await fanout.post_created(data.model_dump())

    @dispatcher.on(PostUpdated)
    async def on_post_updated(event: Event, data: PostUpdated) -> None:
        """Refresh the copied audience and topics of the post's entries."""
        await fanout.post_updated(data.model_dump())

    @dispatcher.on(AnswerAccepted)
    async def on_answer_accepted(event: Event, data: AnswerAccepted) -> None:
        """The question's state changed (answered or open again): its index entries follow."""
        await fanout.question_state_changed(data.question_id)

    @dispatcher.on(PostDeleted)
    async def on_post_deleted(event: Event, data: PostDeleted) -> None:
        """Remove the post from every timeline."""
        await fanout.post_deleted(data.id)

    @dispatcher.on(FollowCreated)
    async def on_follow_created(event: Event, data: FollowCreated) -> None:
        """List the follower under the source; backfill the source's recent posts."""
        await fanout.followed(data.follower_id, data.target_type, data.target_id)

    @dispatcher.on(FollowRemoved)
    async def on_follow_removed(event: Event, data: FollowRemoved) -> None:
        """Unlist the follower; remove the source's entries no other source still brings."""
        await fanout.unfollowed(data.follower_id, data.target_type, data.target_id)

    @dispatcher.on(MembershipChanged)
    async def on_membership_changed(event: Event, data: MembershipChanged) -> None:
        """Keep the member list; backfill on joining; on leaving, drop the group's entries."""
        await fanout.membership_changed(data.user_id, data.group_id, active=data.state == "active")
        if data.change in JOINS and data.state == "active":
            await fanout.joined(data.user_id, data.group_id)
        elif data.change in LEAVES:
            await fanout.left(data.user_id, data.group_id, data.group_visibility)

    @dispatcher.on(GroupCreated)
    async def on_group_created(event: Event, data: GroupCreated) -> None:
        """List the group's creator as its first member."""
        await fanout.group_created(data.id, data.owner_id)

    @dispatcher.on(GroupUpdated)
    async def on_group_updated(event: Event, data: GroupUpdated) -> None:
        """Keep the entries' copy of the group's visibility current."""
        if data.visibility != data.previous_visibility:
            await fanout.group_visibility_changed(data.id, data.visibility)

    @dispatcher.on(GroupDeleted)
    async def on_group_deleted(event: Event, data: GroupDeleted) -> None:
        """The group's posts are gone for everyone."""
        await fanout.group_deleted(data.id)

    return dispatcher

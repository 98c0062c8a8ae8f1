"""Events the inbox consumes (group `notify.inbox`): activity and profiles.

Every handler is idempotent: notification ids derive from event id and recipient, and the
projections are plain sets keyed by id.

The events that only produce notifications also have a batch handler: the bus hands it runs
of consecutive such events, whose candidates go to `Inbox.notify_all` together (a few bulk
reads and writes instead of several round trips per notification). Events that change the
projections (memberships, deletions, expertise) stay per event and split the runs, so each
batch sees the projections exactly as the per-event path would.
"""

from __future__ import annotations

import structlog

from services.notify.inbox import rules
from services.notify.inbox.domain import Candidate
from services.notify.inbox.projection import Audiences
from services.notify.inbox.service import Inbox
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event, EventData
from shared.events.registry import registry
from shared.events.schemas.activity.discussion import (
    AnswerAccepted,
    AnswerCreated,
    AnswerDeleted,
    AnswerUpdated,
    CommentCreated,
    CommentDeleted,
    ReactionSet,
)
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostPinned, PostUpdated
from shared.events.schemas.activity.social import (
    FollowCreated,
    GroupCreated,
    GroupDeleted,
    GroupUpdated,
    MembershipChanged,
)
from shared.events.schemas.profiles_expertise import ExpertiseChanged

log = structlog.get_logger()
# Notification-producing events whose candidates need no projection write first.
BATCHED = (
    PostCreated,
    PostUpdated,
    PostPinned,
    AnswerCreated,
    AnswerUpdated,
    AnswerAccepted,
    CommentCreated,
    ReactionSet,
    FollowCreated,
)


async def candidates_for(audiences: Audiences, data: EventData) -> list[Candidate]:
    """Who may hear of one of the `BATCHED` events (before visibility and preferences)."""
    if isinstance(data, PostCreated):
        # A question asks its topics' top experts for help.
        experts = await audiences.top_experts(data.topics) if data.kind == "question" else []
        return rules.for_post(data, experts)
    if isinstance(data, PostUpdated):
        return rules.for_post(data, [])
    if isinstance(data, PostPinned):
        members = await audiences.members(data.group_id) if data.group_id else []
        return rules.for_pin(data, members)
    if isinstance(data, AnswerCreated | AnswerUpdated):
        return rules.for_answer(data)
    if isinstance(data, AnswerAccepted):
        return rules.for_accepted(data)
    if isinstance(data, CommentCreated):
        return rules.for_comment(data)
    if isinstance(data, ReactionSet):
        return rules.for_reaction(data)
    if isinstance(data, FollowCreated):
        return rules.for_follow(data)
    raise TypeError(f"not a batched event: {type(data).__name__}")


def build_dispatcher(inbox: Inbox, audiences: Audiences) -> EventDispatcher:
    d = EventDispatcher(registry)

    @d.on_batch(*BATCHED)
    async def notify_batch(items: list[tuple[Event, EventData]]) -> None:
        """Runs of notification-producing events: one `notify_all` for the run."""
        await inbox.notify_all([(e, await candidates_for(audiences, data)) for e, data in items])

    @d.on(PostCreated)
    async def post_created(event: Event, data: PostCreated) -> None:
        """Mentions; a question asks its topics' top experts for help."""
        await inbox.notify(event, await candidates_for(audiences, data))

    @d.on(PostUpdated)
    async def post_updated(event: Event, data: PostUpdated) -> None:
        """People newly mentioned by an edit."""
        await inbox.notify(event, await candidates_for(audiences, data))

    @d.on(PostDeleted)
    async def post_deleted(event: Event, data: PostDeleted) -> None:
        """Hide everything about the post, and never notify about it again."""
        await audiences.delete_post(data.id)
        hidden = await inbox.repo.hide_about("post_id", data.id)
        log.info("notify.post.deleted_hidden", post_id=data.id, hidden=hidden)

    @d.on(PostPinned)
    async def post_pinned(event: Event, data: PostPinned) -> None:
        """An announcement: critical, to every member of the group."""
        await inbox.notify(event, await candidates_for(audiences, data))

    @d.on(AnswerCreated)
    async def answer_created(event: Event, data: AnswerCreated) -> None:
        """The asker hears of the answer; the mentioned hear of their mention."""
        await inbox.notify(event, rules.for_answer(data))

    @d.on(AnswerUpdated)
    async def answer_updated(event: Event, data: AnswerUpdated) -> None:
        """People newly mentioned by an edited answer."""
        await inbox.notify(event, rules.for_answer(data))

    @d.on(AnswerAccepted)
    async def answer_accepted(event: Event, data: AnswerAccepted) -> None:
        """The answer's author hears it was accepted."""
        await inbox.notify(event, rules.for_accepted(data))

    @d.on(AnswerDeleted)
    async def answer_deleted(event: Event, data: AnswerDeleted) -> None:
        """Hide notifications about a deleted answer, and never notify about it again."""
        # Reactions and acceptances are keyed by other ids, so one about this answer may be
        # written meanwhile: the tombstone first is what the writer checks after writing.
        await audiences.delete_item(data.id)
        await inbox.repo.hide_about("item_id", data.id)

    @d.on(CommentCreated)
    async def comment_created(event: Event, data: CommentCreated) -> None:
        """The post's author, the parent comment's author, and the mentioned."""
        await inbox.notify(event, rules.for_comment(data))

    @d.on(CommentDeleted)
    async def comment_deleted(event: Event, data: CommentDeleted) -> None:
        """Hide notifications about a deleted comment, and never notify about it again."""
        await audiences.delete_item(data.id)
        await inbox.repo.hide_about("item_id", data.id)

    @d.on(ReactionSet)
    async def reaction_set(event: Event, data: ReactionSet) -> None:
        """The author of a post or answer hears of a new reaction (aggregated)."""
        await inbox.notify(event, rules.for_reaction(data))

    @d.on(FollowCreated)
    async def follow_created(event: Event, data: FollowCreated) -> None:
        """A person hears of a new follower (aggregated)."""
        await inbox.notify(event, rules.for_follow(data))

    @d.on(GroupCreated)
    async def group_created(event: Event, data: GroupCreated) -> None:
        """The creator is the group's first member (no MembershipChanged for it)."""
        await audiences.set_owner(data.id, data.owner_id)

    @d.on(GroupDeleted)
    async def group_deleted(event: Event, data: GroupDeleted) -> None:
        """A deleted group has no members: nothing in it is notified any more, and what
        was notified about its content leaves every inbox."""
        await audiences.delete_group(data.id)
        hidden = await inbox.repo.hide_in_group(data.id)
        log.info("notify.group.withdrawn", group_id=data.id, hidden=hidden, deleted=True)

    @d.on(GroupUpdated)
    async def group_updated(event: Event, data: GroupUpdated) -> None:
        """A group turned private: what its content told non-members leaves their inboxes
        (the record comes first, so a notification written meanwhile is gated by it)."""
        state = await audiences.set_visibility(data.id, data.visibility, data.revision)
        if state == "private" and data.previous_visibility != "private":
            members = await audiences.members(data.id)
            hidden = await inbox.repo.hide_in_group(data.id, keep=members)
            log.info("notify.group.withdrawn", group_id=data.id, hidden=hidden, deleted=False)

    @d.on(MembershipChanged)
    async def membership_changed(event: Event, data: MembershipChanged) -> None:
        """Keep the membership projection; invitations, join requests, approvals."""
        await audiences.set_membership(data.group_id, data.user_id, data.state, data.role)
        await inbox.notify(event, rules.for_membership(data))

    @d.on(ExpertiseChanged)
    async def expertise_changed(event: Event, data: ExpertiseChanged) -> None:
        """Keep who the top experts of each topic are."""
        await audiences.set_expertise(data.person_id, data.topic_id, data.score_ref, data.hidden)

    return d

"""The expertise consumer (`profiles.expertise`): activity signals, memberships, follows.

Every handler is idempotent: sources and local copies change by set-like operations, and
projections are versioned compare-and-swaps (see `repository.py`).
"""

from __future__ import annotations

from typing import Any

from services.profiles.expertise.local import LocalCopies
from services.profiles.expertise.scorer import Scorer
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.activity.discussion import (
    AnswerAccepted,
    AnswerCreated,
    AnswerDeleted,
    AnswerUpdated,
    ReactionRemoved,
    ReactionSet,
    VoteSet,
)
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostUpdated
from shared.events.schemas.activity.social import (
    FollowCreated,
    FollowRemoved,
    GroupCreated,
    GroupDeleted,
    MembershipChanged,
)
from shared.events.schemas.profiles_expertise import EndorsementAdded, EndorsementWithdrawn

Placed = PostCreated | PostUpdated | AnswerCreated | AnswerUpdated | AnswerAccepted | VoteSet


def _about(data: Placed, author_id: str, topics: list[str]) -> dict[str, Any]:
    """`$set` and `$addToSet` parts every event about a source carries."""
    return {
        "$set": {
            "author_id": author_id,
            "topics": topics,
            "audience": data.audience,
            "group_id": data.group_id,
            "group_visibility": data.group_visibility,
        },
        "$addToSet": {"topics_all": {"$each": topics}},
    }


def _question_fields(data: PostCreated | PostUpdated) -> dict[str, Any]:
    return {
        "author_id": data.author_id,
        "topics": data.topics,
        "audience": data.audience,
        "group_id": data.group_id,
        "group_visibility": data.group_visibility,
        "title": data.title,
    }


def build_dispatcher(scorer: Scorer, local: LocalCopies) -> EventDispatcher:
    d = EventDispatcher(registry)

    @d.on(PostCreated)
    async def post_created(event: Event, data: PostCreated) -> None:
        """A note, article or resource counts for its author; a question is remembered."""
        if data.kind == "question":
            await local.upsert_question(data.id, _question_fields(data))
            await local.request(data.id, [m for m in data.mentions if m != data.author_id])
            return
        update = _about(data, data.author_id, data.topics)
        update["$set"] |= {"kind": data.kind, "at": data.created_at}
        await scorer.post(data.id, update)

    @d.on(PostUpdated)
    async def post_updated(event: Event, data: PostUpdated) -> None:
        """Re-tagging moves the post's contribution between topics."""
        if data.kind == "question":
            await local.upsert_question(data.id, _question_fields(data))
            await local.request(data.id, [m for m in data.mentions if m != data.author_id])
            return
        update = _about(data, data.author_id, data.topics)
        update["$set"]["kind"] = data.kind
        update["$setOnInsert"] = {"at": data.edited_at}
        await scorer.post(data.id, update)

    @d.on(PostDeleted)
    async def post_deleted(event: Event, data: PostDeleted) -> None:
        """A deleted post stops counting; a deleted question stops loading anyone."""
        if data.kind == "question":
            await local.close(data.id, {"deleted": True})
            return
        await scorer.post(data.id, {"$set": {"deleted": True, "author_id": data.author_id}})

    @d.on(AnswerCreated)
    async def answer_created(event: Event, data: AnswerCreated) -> None:
        """Answering counts a little; the answerer's request on that question is done."""
        update = _about(data, data.author_id, data.topics)
        update["$set"] |= {"question_id": data.question_id, "answered_at": data.created_at}
        await scorer.answer(data.id, update)
        await local.answered(data.question_id, data.author_id)

    @d.on(AnswerUpdated)
    async def answer_updated(event: Event, data: AnswerUpdated) -> None:
        """Keep the answer's topics and placement current."""
        update = _about(data, data.author_id, data.topics)
        update["$set"]["question_id"] = data.question_id
        await scorer.answer(data.id, update)

    @d.on(AnswerDeleted)
    async def answer_deleted(event: Event, data: AnswerDeleted) -> None:
        """A deleted answer stops counting (votes and acceptance included)."""
        update: dict[str, Any] = {"$set": {"deleted": True, "author_id": data.author_id}}
        update["$addToSet"] = {"topics_all": {"$each": data.topics}}
        await scorer.answer(data.id, update)

    @d.on(AnswerAccepted)
    async def answer_accepted(event: Event, data: AnswerAccepted) -> None:
        """Acceptance weighs most; withdrawing it subtracts exactly that."""
        update = _about(data, data.answer_author_id, data.topics)
        update["$set"] |= {
            "question_id": data.question_id,
            "accepted": data.accepted,
            "accepted_at": data.at,
        }
        await scorer.answer(data.answer_id, update)
        if data.accepted:
            await local.close(data.question_id, {"state": "answered"})
        else:
            await local.reopen(data.question_id)

    @d.on(VoteSet)
    async def vote_set(event: Event, data: VoteSet) -> None:
        """Net votes on an answer count for its author."""
        update = _about(data, data.answer_author_id, data.topics)
        update["$set"]["question_id"] = data.question_id
        update["$max"] = {"votes_at": data.at}
        voter = data.voter_id
        if data.value == 1:
            update["$addToSet"]["up"] = voter
            update["$pull"] = {"down": voter}
        elif data.value == -1:
            update["$addToSet"]["down"] = voter
            update["$pull"] = {"up": voter}
        else:
            update["$pull"] = {"up": voter, "down": voter}
        await scorer.answer(data.answer_id, update)

    async def react(data: ReactionSet | ReactionRemoved, present: bool) -> None:
        if data.target_type != "post" or data.user_id == data.target_author_id:
            return
        op = "$addToSet" if present else "$pull"
        update = {"$set": {"author_id": data.target_author_id}, op: {"reactors": data.user_id}}
        await scorer.post(data.target_id, update)

    @d.on(ReactionSet)
    async def reaction_set(event: Event, data: ReactionSet) -> None:
        """Others reacting to a shared resource is evidence it was worth sharing."""
        await react(data, True)

    @d.on(ReactionRemoved)
    async def reaction_removed(event: Event, data: ReactionRemoved) -> None:
        """A withdrawn reaction stops counting."""
        await react(data, False)

    @d.on(FollowCreated)
    async def follow_created(event: Event, data: FollowCreated) -> None:
        """Remember follows (suggestions skip people already followed)."""
        fields = {
            "follower_id": data.follower_id,
            "target_type": data.target_type,
            "target_id": data.target_id,
        }
        await local.set_follow(data.id, fields, True)

    @d.on(FollowRemoved)
    async def follow_removed(event: Event, data: FollowRemoved) -> None:
        """Forget a removed follow."""
        await local.set_follow(data.id, {}, False)

    @d.on(GroupCreated)
    async def group_created(event: Event, data: GroupCreated) -> None:
        """The creator is the group's first member (no membership event for them)."""
        await local.set_member(data.id, data.owner_id, True)

    @d.on(GroupDeleted)
    async def group_deleted(event: Event, data: GroupDeleted) -> None:
        """Nobody is a member of a deleted group: its evidence is shown to no one."""
        await local.drop_group(data.id)

    @d.on(MembershipChanged)
    async def membership_changed(event: Event, data: MembershipChanged) -> None:
        """Active members see the group's evidence; everyone else does not."""
        await local.set_member(data.group_id, data.user_id, data.state == "active")

    async def endorsement(data: EndorsementAdded | EndorsementWithdrawn, active: bool) -> None:
        await scorer.endorsement(
            endorser_id=data.endorser_id,
            person_id=data.person_id,
            skill_id=data.skill_id,
            active=active,
            at=data.at,
            revision=data.revision,
        )

    @d.on(EndorsementAdded)
    async def endorsement_added(event: Event, data: EndorsementAdded) -> None:
        """Re-apply an endorsement (the skills feature applies it at once; this repairs)."""
        await endorsement(data, True)

    @d.on(EndorsementWithdrawn)
    async def endorsement_withdrawn(event: Event, data: EndorsementWithdrawn) -> None:
        """Re-apply a withdrawal."""
        await endorsement(data, False)

    return d

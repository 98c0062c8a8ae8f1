"""Which candidates each activity event implies (pure; I/O-backed lists are passed in)."""

from __future__ import annotations

from services.notify.inbox.domain import Candidate, Placement
from shared.events.schemas.activity.discussion import (
    AnswerAccepted,
    AnswerCreated,
    AnswerUpdated,
    CommentCreated,
    ReactionSet,
)
from shared.events.schemas.activity.posts import PostCreated, PostPinned, PostUpdated
from shared.events.schemas.activity.social import FollowCreated, MembershipChanged

Placed = AnswerCreated | AnswerUpdated | AnswerAccepted | CommentCreated | ReactionSet | PostPinned


def placement(data: Placed | PostCreated | PostUpdated) -> Placement:
    return Placement(data.audience, data.group_id, data.group_visibility)


def _mentions(
    ids: list[str],
    actor: str,
    target_type: str,
    target_id: str,
    post_id: str,
    where: Placement,
    text: str,
    members: list[str] | None = None,
) -> list[Candidate]:
    """Mention candidates; `members` (the writer's own membership check, when the event
    carries one) decides for a private group instead of our projection, which may lag."""
    verified = None if members is None else set(members)
    return [
        Candidate(
            uid,
            "mention",
            actor,
            target_type,
            target_id,
            where,
            post_id,
            target_id,
            text,
            verified_member=verified is not None,
        )
        for uid in dict.fromkeys(ids)
        if verified is None or uid in verified
    ]


def for_post(data: PostCreated | PostUpdated, experts: list[str]) -> list[Candidate]:
    where = placement(data)
    text = data.title or data.text
    out = _mentions(
        data.mentions, data.author_id, "post", data.id, data.id, where, text, data.member_mentions
    )
    if isinstance(data, PostCreated) and data.kind == "question":
        out += [
            Candidate(
                uid,
                "question.expert_needed",
                data.author_id,
                "post",
                data.id,
                where,
                data.id,
                data.id,
                text,
            )
            for uid in experts
        ]
    return out


def for_answer(data: AnswerCreated | AnswerUpdated) -> list[Candidate]:
    where = placement(data)
    out: list[Candidate] = []
    if isinstance(data, AnswerCreated):
        out.append(
            Candidate(
                data.question_author_id,
                "answer.created",
                data.author_id,
                "question",
                data.question_id,
                where,
                data.question_id,
                data.id,
                data.text,
            )
        )
    return out + _mentions(
        data.mentions,
        data.author_id,
        "answer",
        data.id,
        data.question_id,
        where,
        data.text,
        data.member_mentions,
    )


def for_accepted(data: AnswerAccepted) -> list[Candidate]:
    if not data.accepted:
        return []
    return [
        Candidate(
            data.answer_author_id,
            "answer.accepted",
            data.decided_by,
            "answer",
            data.answer_id,
            placement(data),
            data.question_id,
            data.answer_id,
        )
    ]


def for_comment(data: CommentCreated) -> list[Candidate]:
    where = placement(data)
    out: list[Candidate] = []
    if data.parent_id and data.parent_author_id:
        out.append(
            Candidate(
                data.parent_author_id,
                "comment.replied",
                data.author_id,
                "comment",
                data.parent_id,
                where,
                data.post_id,
                data.id,
                data.text,
            )
        )
    out.append(
        Candidate(
            data.post_author_id,
            "comment.created",
            data.author_id,
            "post",
            data.post_id,
            where,
            data.post_id,
            data.id,
            data.text,
        )
    )
    return out + _mentions(
        data.mentions,
        data.author_id,
        "comment",
        data.id,
        data.post_id,
        where,
        data.text,
        data.member_mentions,
    )


def for_reaction(data: ReactionSet) -> list[Candidate]:
    # A changed reaction is not news; reactions to comments are too small to tell.
    if data.previous_kind is not None or data.target_type not in ("post", "answer"):
        return []
    return [
        Candidate(
            data.target_author_id,
            "reaction",
            data.user_id,
            data.target_type,
            data.target_id,
            placement(data),
            data.post_id,
            data.target_id,
        )
    ]


def for_follow(data: FollowCreated) -> list[Candidate]:
    if data.target_type != "person":
        return []
    return [
        Candidate(
            data.target_id,
            "follower",
            data.follower_id,
            "person",
            data.target_id,
            needs_membership=False,
        )
    ]


def for_membership(data: MembershipChanged) -> list[Candidate]:
    where = Placement("group", data.group_id, data.group_visibility)

    def about(uid: str, type_: str) -> Candidate:
        return Candidate(
            uid,
            type_,
            data.actor_id,
            "group",
            data.group_id,
            where,
            group_name=data.group_name,
            needs_membership=False,
        )

    if data.change == "invited":
        return [about(data.user_id, "group.invited")]
    if data.change == "requested":
        return [about(uid, "group.join_requested") for uid in data.admin_ids]
    if data.change == "approved":
        return [about(data.user_id, "group.approved")]
    return []


def for_pin(data: PostPinned, members: list[str]) -> list[Candidate]:
    if not data.pinned or data.audience != "group":
        return []
    return [
        Candidate(
            uid,
            "announcement",
            data.pinned_by,
            "post",
            data.id,
            placement(data),
            data.id,
            data.id,
            data.title or data.text,
            critical=True,
        )
        for uid in members
    ]

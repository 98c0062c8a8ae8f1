"""Activity events: answers, votes, accepted answers, comments and reactions.

Each payload carries the audience of the thing it is about (copied from the question or
post) and the authors a consumer needs (expertise, notifications, search) without calling
back. Counters are deltas: `previous_*` fields say what a change replaced.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.registry import registry
from shared.events.schemas.activity.base import ActivityEvent, Audience, GroupVisibility

ReactionKind = Literal["like", "insightful", "thanks", "celebrate"]
ReactionTarget = Literal["post", "answer", "comment"]
VoteValue = Literal[-1, 0, 1]


class _Placed(ActivityEvent):
    """Where the item lives: consumers never show private-group content to non-members."""

    audience: Audience
    group_id: str | None = None
    group_visibility: GroupVisibility | None = None


@registry.register
class AnswerCreated(_Placed):
    """Someone answered a question."""

    event_type: ClassVar[str] = "canteen.activity.answer.created.v1"

    id: str
    question_id: str
    question_author_id: str
    author_id: str
    topics: list[str] = Field(default_factory=list, description="the question's topics")
    text: str = Field(description="plain-text rendering of the answer, for search")
    mentions: list[str] = Field(default_factory=list, description="user ids")
    member_mentions: list[str] | None = Field(
        None,
        description="of `mentions`, who were active members of the private group when this "
        "was written (None outside private groups)",
    )
    created_at: datetime


@registry.register
class AnswerUpdated(_Placed):
    """An answer was edited by its author or a moderator."""

    event_type: ClassVar[str] = "canteen.activity.answer.updated.v1"

    id: str
    question_id: str
    question_author_id: str
    author_id: str
    editor_id: str
    topics: list[str] = Field(default_factory=list)
    text: str
    mentions: list[str] = Field(default_factory=list, description="user ids newly mentioned")
    member_mentions: list[str] | None = Field(
        None,
        description="of `mentions`, who were active members of the private group when this "
        "was written (None outside private groups)",
    )
    revision: int = Field(ge=1)
    edited_at: datetime


@registry.register
class AnswerDeleted(_Placed):
    """Tombstone: the answer is gone; the question's answer count goes down."""

    event_type: ClassVar[str] = "canteen.activity.answer.deleted.v1"

    id: str
    question_id: str
    question_author_id: str
    author_id: str
    deleted_by: str
    topics: list[str] = Field(default_factory=list)
    deleted_at: datetime


@registry.register
class AnswerAccepted(_Placed):
    """An answer was accepted (`accepted`) or un-accepted (`accepted` false) on a question."""

    event_type: ClassVar[str] = "canteen.activity.answer.accepted.v1"
    subject_field: ClassVar[str] = "question_id"

    question_id: str
    answer_id: str
    answer_author_id: str
    asker_id: str
    accepted: bool
    decided_by: str
    topics: list[str] = Field(default_factory=list)
    at: datetime


@registry.register
class VoteSet(_Placed):
    """A vote on an answer was cast, changed or withdrawn (`value` 0)."""

    event_type: ClassVar[str] = "canteen.activity.vote.set.v1"
    subject_field: ClassVar[str] = "answer_id"

    answer_id: str
    answer_author_id: str
    question_id: str
    voter_id: str
    value: VoteValue
    previous_value: VoteValue
    topics: list[str] = Field(default_factory=list)
    at: datetime


@registry.register
class CommentCreated(_Placed):
    """A comment (or a reply to one) was written on a post."""

    event_type: ClassVar[str] = "canteen.activity.comment.created.v1"

    id: str
    post_id: str
    post_author_id: str
    parent_id: str | None = None
    parent_author_id: str | None = None
    author_id: str
    text: str
    mentions: list[str] = Field(default_factory=list, description="user ids")
    member_mentions: list[str] | None = Field(
        None,
        description="of `mentions`, who were active members of the private group when this "
        "was written (None outside private groups)",
    )
    topics: list[str] = Field(default_factory=list, description="the post's topics")
    created_at: datetime


@registry.register
class CommentDeleted(_Placed):
    """Tombstone: the comment is gone (a placeholder may stay if it has replies)."""

    event_type: ClassVar[str] = "canteen.activity.comment.deleted.v1"

    id: str
    post_id: str
    post_author_id: str
    parent_id: str | None = None
    author_id: str
    deleted_by: str
    deleted_at: datetime


class _Reaction(_Placed):
    """`id` is the reaction's id: `<target_type>:<target_id>:<user_id>`."""

    id: str
    target_type: ReactionTarget
    target_id: str
    target_author_id: str
    post_id: str = Field(description="the post (or question) the target belongs to")
    user_id: str
    at: datetime


@registry.register
class ReactionSet(_Reaction):
    """A person reacted to a post, answer or comment, or changed their reaction."""

    event_type: ClassVar[str] = "canteen.activity.reaction.set.v1"

    kind: ReactionKind
    previous_kind: ReactionKind | None = None


@registry.register
class ReactionRemoved(_Reaction):
    """A person withdrew their reaction (`previous_kind` is what was removed)."""

    event_type: ClassVar[str] = "canteen.activity.reaction.removed.v1"

    previous_kind: ReactionKind

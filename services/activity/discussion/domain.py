"""Comments and reactions: pure rules returning documents and the events they imply."""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from services.activity.discussion.text import Body, render
from services.activity.rules import NotPermitted, placement
from shared.events.envelope import Event, new_event
from shared.events.schemas.activity.discussion import (
    CommentCreated,
    CommentDeleted,
    ReactionKind,
    ReactionRemoved,
    ReactionSet,
    ReactionTarget,
)
from shared.ids import new_id

MAX_COMMENT_CHARS = 10_000
DELETED_PLACEHOLDER = "[deleted]"
REACTION_KINDS: tuple[str, ...] = get_args(ReactionKind)
TargetType = ReactionTarget


class DiscussionRuleViolation(ValueError):
    """A request that breaks a rule of comments or reactions (422)."""


def comment_body(text: str) -> Body:
    """Check and render a comment's Markdown."""
    source = text.strip()
    if not source:
        raise DiscussionRuleViolation("text must not be blank")
    if len(source) > MAX_COMMENT_CHARS:
        raise DiscussionRuleViolation(f"text is longer than {MAX_COMMENT_CHARS} characters")
    return render(source)


def new_comment(
    post: dict[str, Any],
    parent: dict[str, Any] | None,
    body: Body,
    *,
    mentions: list[str],
    author_id: str,
    now: datetime,
    member_mentions: list[str] | None = None,
) -> tuple[dict[str, Any], Event]:
    """One level of replies: a reply's parent must be a top-level comment of the same post."""
    if parent is not None:
        if parent["post_id"] != post["_id"]:
            raise DiscussionRuleViolation("parent_id is a comment of another post")
        if parent.get("parent_id") is not None:
            raise DiscussionRuleViolation("replies go one level deep: reply to the comment")
    comment_id = new_id()
    where = placement(post)
    doc: dict[str, Any] = {
        "_id": comment_id,
        "post_id": post["_id"],
        "post_author_id": post["author_id"],
        "parent_id": parent["_id"] if parent else None,
        "author_id": author_id,
        "body_md": body.md,
        "body_html": body.html,
        "text": body.text,
        "mentions": mentions,
        **where,
        "created_at": now,
        "deleted": False,
        "has_replies": False,
        "counts": {"reactions": 0},
        "reactions_by_kind": {},
    }
    event = new_event(
        CommentCreated(
            id=comment_id,
            post_id=post["_id"],
            post_author_id=post["author_id"],
            parent_id=doc["parent_id"],
            parent_author_id=parent["author_id"] if parent else None,
            author_id=author_id,
            text=body.text,
            mentions=mentions,
            member_mentions=member_mentions,
            topics=list(post.get("topics") or []),
            created_at=now,
            **where,
        )
    )
    return doc, event


def may_delete(comment: dict[str, Any], user_id: str, *, moderator: bool) -> None:
    if comment["author_id"] != user_id and not moderator:
        raise NotPermitted("only the author or a moderator may delete this comment")


def delete_comment(comment: dict[str, Any], *, by: str, now: datetime) -> Event:
    return new_event(
        CommentDeleted(
            id=comment["_id"],
            post_id=comment["post_id"],
            post_author_id=comment["post_author_id"],
            parent_id=comment.get("parent_id"),
            author_id=comment["author_id"],
            deleted_by=by,
            deleted_at=now,
            **placement(comment),
        )
    )


def as_shown(comment: dict[str, Any]) -> dict[str, Any]:
    """A deleted comment kept for its replies shows as a placeholder, author hidden."""
    if not comment.get("deleted"):
        return comment
    return {
        **comment,
        "author_id": None,
        "body_md": DELETED_PLACEHOLDER,
        "body_html": f"<p>{DELETED_PLACEHOLDER}</p>",
        "text": DELETED_PLACEHOLDER,
        "counts": {"reactions": 0},
        "reactions_by_kind": {},
    }


def reaction_id(target_type: str, target_id: str, user_id: str) -> str:
    return f"{target_type}:{target_id}:{user_id}"


def reaction_event(
    target_type: TargetType,
    target: dict[str, Any],
    *,
    post_id: str,
    user_id: str,
    kind: str | None,
    previous: str | None,
    now: datetime,
) -> Event:
    """`reaction.set` (kind given) or `reaction.removed` (kind None) for one person."""
    common: dict[str, Any] = {
        "id": reaction_id(target_type, target["_id"], user_id),
        "target_type": target_type,
        "target_id": target["_id"],
        "target_author_id": target["author_id"],
        "post_id": post_id,
        "user_id": user_id,
        "at": now,
        **placement(target),
    }
    if kind is None:
        return new_event(ReactionRemoved(previous_kind=previous, **common))
    return new_event(ReactionSet(kind=kind, previous_kind=previous, **common))


def containing_post(target_type: TargetType, target: dict[str, Any]) -> str:
    if target_type == "post":
        return str(target["_id"])
    if target_type == "answer":
        return str(target["question_id"])
    return str(target["post_id"])

"""Who hears about an event, and what the notification says: pure rules, no I/O.

`Candidate`s come out of an event; the service then drops the actor, people who cannot see
the content, and muted/disabled channels, and writes one notification per (event, recipient).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SNIPPET_CHARS = 140
# How many actors a group remembers by id ("Ana, Bo and 3 others").
GROUP_ACTORS = 5

TITLES = {
    "answer.created": "New answer to your question",
    "answer.accepted": "Your answer was accepted",
    "comment.created": "New comment on your post",
    "comment.replied": "New reply to your comment",
    "mention": "You were mentioned",
    "reaction": "New reaction",
    "follower": "New follower",
    "group.invited": "Group invitation",
    "group.join_requested": "Request to join your group",
    "group.approved": "You joined the group",
    "question.expert_needed": "Someone may need your help",
    "announcement": "Announcement",
}
VERBS = {
    "answer.created": "answered your question",
    "answer.accepted": "accepted your answer",
    "comment.created": "commented on your post",
    "comment.replied": "replied to your comment",
    "mention": "mentioned you",
    "reaction": "reacted to your {target}",
    "follower": "followed you",
    "group.invited": "invited you to a group",
    "group.join_requested": "asked to join your group",
    "group.approved": "approved your request to join",
    "question.expert_needed": "asked a question in your area of expertise",
    "announcement": "pinned an announcement",
}


@dataclass(frozen=True)
class Placement:
    audience: str = "org"
    group_id: str | None = None
    group_visibility: str | None = None

    @property
    def private(self) -> bool:
        return self.audience == "group" and self.group_visibility != "public"


@dataclass(frozen=True)
class Candidate:
    recipient_id: str
    type: str
    actor_id: str | None
    target_type: str
    target_id: str
    placement: Placement = field(default_factory=Placement)
    post_id: str | None = None
    item_id: str | None = None
    text: str = ""
    group_name: str | None = None
    critical: bool = False
    # Membership notifications are about the group itself: the recipient is told even
    # though they are not (yet) a member of a private group.
    needs_membership: bool = True
    # The writer checked membership when it wrote (a mention in a private post): trusted
    # over our projection, which may not have the membership yet. The group must still live.
    verified_member: bool = False


def notification_id(event_id: str, recipient_id: str) -> str:
    return hashlib.sha256(f"{event_id}:{recipient_id}".encode()).hexdigest()[:32]


def group_key(c: Candidate) -> str:
    return f"{c.recipient_id}|{c.type}|{c.target_type}|{c.target_id}"


def group_doc_id(key: str, at: datetime, window_seconds: int) -> str:
    """Aggregation bucket: deterministic from the event's time, so redeliveries and replicas
    agree without coordination."""
    bucket = int(at.timestamp()) // max(window_seconds, 1)
    return hashlib.sha256(f"{key}|{bucket}".encode()).hexdigest()[:32]


def title_of(c: Candidate) -> str:
    return TITLES.get(c.type, "Notification")


def summary_of(c: Candidate) -> str:
    """What email and push may show: never the content of a private group."""
    if c.placement.private and c.type not in ("group.invited", "group.join_requested"):
        kind = "mention" if c.type == "mention" else TITLES.get(c.type, "notification").lower()
        return f"New {kind.removeprefix('new ')} in a private group"
    verb = VERBS.get(c.type, "").format(target=c.target_type)
    snippet = c.text.strip().replace("\n", " ")
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 1] + "…"
    if c.group_name:
        snippet = snippet or c.group_name
    return f"{c.actor_id} {verb}: {snippet}" if snippet else f"{c.actor_id} {verb}"


def link_of(c: Candidate) -> str:
    if c.post_id:
        return f"/posts/{c.post_id}"
    if c.target_type == "group":
        return f"/groups/{c.target_id}"
    if c.target_type == "person":
        return f"/people/{c.actor_id}"
    return "/notifications"


def build_notification(
    c: Candidate, *, event_id: str, at: datetime, now: datetime, window_seconds: int
) -> dict[str, Any]:
    """The notification document (without `seq`, `channels`, `in_app`: the service adds them).

    `at` (the event's time) picks the aggregation bucket, so a redelivery lands in the same
    group; `created_at` is when it was written (what the stream tails by).
    """
    key = group_key(c)
    return {
        "_id": notification_id(event_id, c.recipient_id),
        "recipient_id": c.recipient_id,
        "type": c.type,
        "actor_id": c.actor_id,
        "target": {"type": c.target_type, "id": c.target_id},
        "group_key": key,
        "group_id": group_doc_id(key, at, window_seconds),
        "audience": c.placement.audience,
        "audience_group_id": c.placement.group_id,
        "private": c.placement.private,
        "post_id": c.post_id,
        "item_id": c.item_id,
        "title": title_of(c),
        "summary": summary_of(c),
        "link": link_of(c),
        "critical": c.critical,
        "created_at": now,
        "event_at": at,
        "event_id": event_id,
        "read_at": None,
        "seen_at": None,
        "hidden": False,
    }


def group_summary(type_: str, target_type: str, actors: list[str], actor_count: int) -> str:
    """ "ana and 4 others reacted to your answer"."""
    verb = VERBS.get(type_, "").format(target=target_type)
    if not actors:
        return TITLES.get(type_, "Notification")
    first = actors[-1]
    others = actor_count - 1
    if others <= 0:
        return f"{first} {verb}"
    return f"{first} and {others} other{'s' if others > 1 else ''} {verb}"

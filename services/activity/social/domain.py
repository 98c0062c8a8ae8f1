"""Follows: who follows which person or topic. Pure rules, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from services.activity.topics import normalize_topic
from shared.events.envelope import Event, new_event
from shared.events.schemas.activity.social import FollowCreated, FollowRemoved

TargetType = Literal["person", "topic"]
MAX_TOPIC_CHARS = 64


class FollowRuleViolation(ValueError):
    """A follow that breaks a rule (mapped to 422 by the routes)."""


def follow_id(follower_id: str, target_type: TargetType, target_id: str) -> str:
    return f"{follower_id}:{target_type}:{target_id}"


def stats_id(target_type: TargetType, target_id: str) -> str:
    return f"{target_type}:{target_id}"


def topic_target(raw: str) -> str:
    """The normalized topic, or a rule violation when nothing is left of it."""
    topic = normalize_topic(raw)
    if not topic:
        raise FollowRuleViolation("topic is empty once normalized")
    if len(topic) > MAX_TOPIC_CHARS:
        raise FollowRuleViolation(f"topic is longer than {MAX_TOPIC_CHARS} characters")
    return topic


def check_target(follower_id: str, target_type: TargetType, target_id: str) -> None:
    if target_type == "person" and target_id == follower_id:
        raise FollowRuleViolation("you cannot follow yourself")


def new_follow(
    follower_id: str, target_type: TargetType, target_id: str, *, now: datetime
) -> tuple[dict[str, Any], Event]:
    """The follow document (shape of docs/activity.md) and its `follow.created` event."""
    check_target(follower_id, target_type, target_id)
    fid = follow_id(follower_id, target_type, target_id)
    doc = {
        "_id": fid,
        "follower_id": follower_id,
        "target_type": target_type,
        "target_id": target_id,
        "created_at": now,
    }
    event = new_event(
        FollowCreated(
            id=fid,
            follower_id=follower_id,
            target_type=target_type,
            target_id=target_id,
            created_at=now,
        )
    )
    return doc, event


def removal(follower_id: str, target_type: TargetType, target_id: str, *, now: datetime) -> Event:
    return new_event(
        FollowRemoved(
            id=follow_id(follower_id, target_type, target_id),
            follower_id=follower_id,
            target_type=target_type,
            target_id=target_id,
            created_at=now,
        )
    )


def stats_deltas(
    target_type: TargetType, follower_id: str, target_id: str, sign: int
) -> list[tuple[str, str, int]]:
    """(stats doc id, counter, delta) pairs one follow change implies."""
    return [
        (stats_id("person", follower_id), "following", sign),
        (stats_id(target_type, target_id), "followers", sign),
    ]

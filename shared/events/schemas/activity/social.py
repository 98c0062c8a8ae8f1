"""Activity events: follows (people and topics), groups and memberships.

Private groups' events travel on the bus like any other: they carry the group's
`visibility` (or `group_visibility`), and consumers filter what they show on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.registry import registry
from shared.events.schemas.activity.base import ActivityEvent, GroupVisibility

FollowTarget = Literal["person", "topic"]
JoinPolicy = Literal["open", "request", "invite"]
GroupRole = Literal["owner", "admin", "member"]
MembershipState = Literal["active", "requested", "invited", "none"]
MembershipChange = Literal[
    "joined",
    "left",
    "requested",
    "approved",
    "rejected",
    "invited",
    "invite_accepted",
    "invite_declined",
    "role_changed",
    "removed",
]


@registry.register
class FollowCreated(ActivityEvent):
    """`follower_id` now follows a person or a topic."""

    event_type: ClassVar[str] = "canteen.activity.follow.created.v1"

    id: str = Field(description="the follow's id: <follower_id>:<target_type>:<target_id>")
    follower_id: str
    target_type: FollowTarget
    target_id: str = Field(description="a user id, or a normalized topic")
    created_at: datetime


@registry.register
class FollowRemoved(ActivityEvent):
    """`follower_id` no longer follows a person or a topic."""

    event_type: ClassVar[str] = "canteen.activity.follow.removed.v1"

    id: str
    follower_id: str
    target_type: FollowTarget
    target_id: str
    created_at: datetime = Field(description="when the follow was removed")


class _GroupEvent(ActivityEvent):
    id: str
    slug: str
    name: str
    description: str = ""
    visibility: GroupVisibility
    join_policy: JoinPolicy
    owner_id: str = Field(description="the group's creator")
    actor_id: str = Field(description="who made the change")


@registry.register
class GroupCreated(_GroupEvent):
    """A group was created; its creator is its first owner (no MembershipChanged for it)."""

    event_type: ClassVar[str] = "canteen.activity.group.created.v1"

    created_at: datetime


@registry.register
class GroupUpdated(_GroupEvent):
    """A group's name, description, visibility or join policy changed."""

    event_type: ClassVar[str] = "canteen.activity.group.updated.v1"

    previous_visibility: GroupVisibility
    revision: int = Field(ge=1)
    updated_at: datetime


@registry.register
class GroupDeleted(_GroupEvent):
    """Tombstone: the group and everything posted in it are gone for everyone."""

    event_type: ClassVar[str] = "canteen.activity.group.deleted.v1"

    deleted_at: datetime


@registry.register
class MembershipChanged(ActivityEvent):
    """A person's relation to a group changed (keyed by group, so a group's changes keep order)."""

    event_type: ClassVar[str] = "canteen.activity.membership.changed.v1"
    subject_field: ClassVar[str] = "group_id"

    group_id: str
    user_id: str
    change: MembershipChange
    state: MembershipState = Field(description="the membership's state after the change")
    previous_state: MembershipState = Field(description="its state before (for member counts)")
    role: GroupRole | None = Field(None, description="the role after the change, when active")
    actor_id: str
    group_visibility: GroupVisibility
    group_slug: str
    group_name: str
    admin_ids: list[str] = Field(
        default_factory=list,
        description="the group's owners and admins, on `requested` (so notify needs no lookup)",
    )
    changed_at: datetime

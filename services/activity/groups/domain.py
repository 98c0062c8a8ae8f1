"""Groups and memberships: pure rules (who may do what, which state follows), no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.events.envelope import Event, new_event
from shared.events.schemas.activity.social import (
    GroupCreated,
    GroupDeleted,
    GroupUpdated,
    MembershipChange,
    MembershipChanged,
    MembershipState,
)
from shared.ids import new_id

Visibility = Literal["public", "private"]
JoinPolicy = Literal["open", "request", "invite"]
Role = Literal["owner", "admin", "member"]
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MANAGERS = ("owner", "admin")


class GroupRuleViolation(ValueError):
    """Input that breaks a rule (422)."""


class NotAllowed(Exception):
    """The caller sees the group but may not do this (403)."""


class NoSuchMembership(Exception):
    """No membership in the state the action needs (404)."""


class GroupConflict(Exception):
    """The action clashes with the group's state: slug taken, last owner (409)."""


@dataclass(frozen=True)
class NewGroup:
    name: str
    slug: str
    description: str
    visibility: Visibility
    join_policy: JoinPolicy


@dataclass(frozen=True)
class Transition:
    """What an action does to a membership: the change it announces, the state it leaves."""

    change: MembershipChange
    state: MembershipState
    role: Role | None


def state_of(membership: dict[str, Any] | None) -> MembershipState:
    return membership["state"] if membership else "none"


def check_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise GroupRuleViolation("slug must be lowercase letters, digits and inner dashes")
    return slug


def create_group(
    cmd: NewGroup, *, creator: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any], Event]:
    """The group (its creator counted as first member), the owner's membership, the event."""
    name = cmd.name.strip()
    if not name:
        raise GroupRuleViolation("name must not be blank")
    group_id = new_id()
    group = {
        "_id": group_id,
        "slug": check_slug(cmd.slug),
        "name": name,
        "description": cmd.description.strip(),
        "visibility": cmd.visibility,
        "join_policy": cmd.join_policy,
        "owner_id": creator,
        "created_at": now,
        "updated_at": now,
        "revision": 0,
        "deleted": False,
        "member_count": 1,
        "_applied": [],
    }
    owner = membership_doc(group_id, creator, now=now)
    owner.update(state="active", role="owner", joined_at=now)
    return group, owner, new_event(GroupCreated(**card(group), actor_id=creator, created_at=now))


def membership_doc(group_id: str, user_id: str, *, now: datetime) -> dict[str, Any]:
    return {
        "_id": f"{group_id}:{user_id}",
        "group_id": group_id,
        "user_id": user_id,
        "role": None,
        "state": "none",
        "created_at": now,
        "updated_at": now,
        "joined_at": None,
        "invited_by": None,
        "revision": 0,
    }


def card(group: dict[str, Any]) -> dict[str, Any]:
    keys = ("slug", "name", "description", "visibility", "join_policy", "owner_id")
    return {"id": group["_id"], **{k: group[k] for k in keys}}


def update_group(
    group: dict[str, Any], changes: dict[str, Any], *, actor: str, now: datetime
) -> tuple[dict[str, Any], Event]:
    """The `$set` for a PATCH and its event; only name, description, visibility, policy."""
    fields = {k: v for k, v in changes.items() if v is not None}
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        if not fields["name"]:
            raise GroupRuleViolation("name must not be blank")
    if "description" in fields:
        fields["description"] = fields["description"].strip()
    revision = group.get("revision", 0) + 1
    new = {**group, **fields}
    event = GroupUpdated(
        **card(new),
        actor_id=actor,
        previous_visibility=group["visibility"],
        revision=revision,
        updated_at=now,
    )
    return {**fields, "revision": revision, "updated_at": now}, new_event(event)


def delete_group(group: dict[str, Any], *, actor: str, now: datetime) -> Event:
    return new_event(GroupDeleted(**card(group), actor_id=actor, deleted_at=now))


def may_manage(role: str | None) -> bool:
    return role in MANAGERS


def join(group: dict[str, Any], current: MembershipState) -> Transition | None:
    """None: nothing to do (already a member, or already asked)."""
    if current == "active":
        return None
    if current == "invited":
        return Transition("invite_accepted", "active", "member")
    policy = group["join_policy"]
    if policy == "open":
        return Transition("joined", "active", "member")
    if policy == "request":
        return None if current == "requested" else Transition("requested", "requested", None)
    raise NotAllowed("this group is by invitation only")


def leave(current: MembershipState, role: str | None, owners: int) -> Transition | None:
    if current == "active":
        if role == "owner" and owners <= 1:
            raise GroupConflict("the last owner cannot leave: make someone else owner first")
        return Transition("left", "none", None)
    if current == "requested":
        return Transition("left", "none", None)
    if current == "invited":
        return Transition("invite_declined", "none", None)
    return None


def answer_request(current: MembershipState, *, approve: bool) -> Transition:
    if current != "requested":
        raise NoSuchMembership("no pending request from this person")
    if approve:
        return Transition("approved", "active", "member")
    return Transition("rejected", "none", None)


def invite(current: MembershipState) -> Transition | None:
    if current == "active":
        raise GroupConflict("already a member")
    if current == "invited":
        return None
    if current == "requested":
        return Transition("approved", "active", "member")
    return Transition("invited", "invited", None)


def answer_invitation(current: MembershipState, *, accept: bool) -> Transition:
    if current != "invited":
        raise NoSuchMembership("no pending invitation")
    if accept:
        return Transition("invite_accepted", "active", "member")
    return Transition("invite_declined", "none", None)


def change_role(
    actor_role: str | None, current: MembershipState, role: str | None, new: Role, owners: int
) -> Transition | None:
    if actor_role != "owner":
        raise NotAllowed("only an owner may change roles")
    if current != "active":
        raise NoSuchMembership("not a member of this group")
    if role == new:
        return None
    if role == "owner" and owners <= 1:
        raise GroupConflict("a group keeps at least one owner")
    return Transition("role_changed", "active", new)


def remove(
    actor_role: str | None, current: MembershipState, role: str | None, owners: int
) -> Transition:
    if not may_manage(actor_role):
        raise NotAllowed("only the group's owners and admins may remove members")
    if current != "active":
        raise NoSuchMembership("not a member of this group")
    if role in MANAGERS and actor_role != "owner":
        raise NotAllowed("only an owner may remove an owner or an admin")
    if role == "owner" and owners <= 1:
        raise GroupConflict("a group keeps at least one owner")
    return Transition("removed", "none", None)


def apply(
    group: dict[str, Any],
    membership: dict[str, Any],
    step: Transition,
    *,
    actor: str,
    now: datetime,
    admin_ids: list[str],
) -> tuple[dict[str, Any], Event]:
    """The `$set` a transition writes on the membership and the event it announces."""
    fields: dict[str, Any] = {"state": step.state, "role": step.role, "updated_at": now}
    if step.state == "active" and membership["state"] != "active":
        fields["joined_at"] = now
    if step.change == "invited":
        fields["invited_by"] = actor
    event = MembershipChanged(
        group_id=group["_id"],
        user_id=membership["user_id"],
        change=step.change,
        state=step.state,
        previous_state=membership["state"],
        role=step.role,
        actor_id=actor,
        group_visibility=group["visibility"],
        group_slug=group["slug"],
        group_name=group["name"],
        admin_ids=admin_ids if step.change == "requested" else [],
        changed_at=now,
    )
    return fields, new_event(event)


def member_delta(previous: str, state: str) -> int:
    return int(state == "active") - int(previous == "active")

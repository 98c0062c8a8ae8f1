"""Membership use cases: join, leave, requests, invitations, roles, removal.

Each action reads the membership, lets the domain decide the transition, and writes it
with its `membership.changed` event as a compare-and-swap on the membership's revision
(re-read and decide again when another write got there first).

Known limit: "a group keeps an owner" counts owners before the write, so two owners
demoting or removing each other at the same instant could both succeed (no transaction
spans two membership documents); an org admin can still delete or repair the group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from services.activity.groups import domain
from services.activity.groups.domain import (
    GroupConflict,
    NoSuchMembership,
    NotAllowed,
    Role,
    Transition,
)
from services.activity.groups.service import GroupService, Seen, now_ms
from shared.events.schemas.activity.social import MembershipState
from shared.http.auth.principal import Principal

log = structlog.get_logger()
Decide = Callable[[MembershipState, str | None], Transition | None]
_ATTEMPTS = 5


class MembershipService:
    def __init__(self, groups: GroupService) -> None:
        self._groups = groups
        self._repo = groups.repo

    async def _move(self, view: Seen, user_id: str, actor: str, decide: Decide) -> dict[str, Any]:
        group = view.group
        for _ in range(_ATTEMPTS):
            now = now_ms()
            current = await self._repo.membership(group["_id"], user_id)
            state = domain.state_of(current)
            step = decide(state, current["role"] if current else None)
            base = current or domain.membership_doc(group["_id"], user_id, now=now)
            if step is None:
                return base
            admins = await self._repo.managers(group["_id"]) if step.change == "requested" else []
            fields, event = domain.apply(group, base, step, actor=actor, now=now, admin_ids=admins)
            if current is None:
                written = await self._repo.add_membership({**base, **fields}, [event])
            else:
                written = await self._repo.update_membership(current, fields, event)
            if written:
                self._groups.on_events()
                log.info(
                    "activity.membership.changed",
                    group_id=group["_id"],
                    user_id=user_id,
                    change=step.change,
                )
                return {**base, **fields}
        raise GroupConflict("the membership keeps changing: retry")

    async def _managed(self, principal: Principal, group_id: str) -> Seen:
        view = await self._groups.get(principal, group_id)
        if not domain.may_manage(view.role):
            raise NotAllowed("only the group's owners and admins may do this")
        return view

    async def mine(self, principal: Principal, group_id: str) -> dict[str, Any]:
        view = await self._groups.get(principal, group_id)
        return view.membership or domain.membership_doc(group_id, principal.user_id, now=now_ms())

    async def join(self, principal: Principal, group_id: str) -> dict[str, Any]:
        view = await self._groups.get(principal, group_id)
        if view.private and view.state == "none":
            raise NotAllowed("a private group is joined by invitation only")
        return await self._move(
            view, principal.user_id, principal.user_id, lambda s, _: domain.join(view.group, s)
        )

    async def leave(self, principal: Principal, group_id: str) -> None:
        view = await self._groups.get(principal, group_id)
        owners = await self._repo.owners(group_id)
        await self._move(
            view, principal.user_id, principal.user_id, lambda s, r: domain.leave(s, r, owners)
        )

    async def answer_request(
        self, principal: Principal, group_id: str, user_id: str, *, approve: bool
    ) -> dict[str, Any]:
        view = await self._managed(principal, group_id)
        return await self._move(
            view,
            user_id,
            principal.user_id,
            lambda s, _: domain.answer_request(s, approve=approve),
        )

    async def invite(
        self, principal: Principal, group_id: str, user_id: str
    ) -> tuple[dict[str, Any], bool]:
        view = await self._managed(principal, group_id)
        before = await self._repo.membership(group_id, user_id)
        after = await self._move(view, user_id, principal.user_id, lambda s, _: domain.invite(s))
        return after, domain.state_of(before) != "invited" and after["state"] == "invited"

    async def answer_invitation(
        self, principal: Principal, group_id: str, *, accept: bool
    ) -> dict[str, Any]:
        view = await self._groups.get(principal, group_id)
        return await self._move(
            view,
            principal.user_id,
            principal.user_id,
            lambda s, _: domain.answer_invitation(s, accept=accept),
        )

    async def set_role(
        self, principal: Principal, group_id: str, user_id: str, role: Role
    ) -> dict[str, Any]:
        view = await self._groups.get(principal, group_id)
        owners = await self._repo.owners(group_id)
        return await self._move(
            view,
            user_id,
            principal.user_id,
            lambda s, r: domain.change_role(view.role, s, r, role, owners),
        )

    async def remove(self, principal: Principal, group_id: str, user_id: str) -> None:
        view = await self._groups.get(principal, group_id)
        owners = await self._repo.owners(group_id)
        await self._move(
            view,
            user_id,
            principal.user_id,
            lambda s, r: domain.remove(view.role, s, r, owners),
        )

    async def members(
        self, principal: Principal, group_id: str, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        await self._groups.content(principal, group_id)
        return await self._repo.members(group_id, "active", limit=limit, after=after)

    async def requests(
        self, principal: Principal, group_id: str, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        await self._managed(principal, group_id)
        return await self._repo.members(group_id, "requested", limit=limit, after=after)


__all__ = ["MembershipService", "NoSuchMembership"]

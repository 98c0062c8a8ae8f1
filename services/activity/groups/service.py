"""Group use cases: create, read, list, edit, delete; who may see a group.

Who sees what (the minimal surface; every other case answers 404, as if no such group):
- a public group: everyone signed in sees its card and its members;
- a private group: its active members see everything members may see; a person with a
  pending invitation or request sees the card and their own membership (to accept,
  decline or withdraw); org admins who are not members see the card only (to list and
  delete groups for moderation), never members, requests or content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from services.activity.groups import domain
from services.activity.groups.domain import GroupConflict, NewGroup, NotAllowed
from services.activity.groups.repository import GroupRepository, SlugTaken
from shared.http.auth.principal import Principal

log = structlog.get_logger()


def now_ms() -> datetime:
    """Now, to the millisecond: what the store keeps, so responses match later reads."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class GroupNotFound(Exception):
    """Unknown, deleted, or invisible to the caller (404)."""


@dataclass(frozen=True)
class Seen:
    """A group as one caller sees it, with the caller's own membership (or None)."""

    group: dict[str, Any]
    membership: dict[str, Any] | None

    @property
    def state(self) -> str:
        return domain.state_of(self.membership)

    @property
    def role(self) -> str | None:
        return self.membership["role"] if self.state == "active" and self.membership else None

    @property
    def is_member(self) -> bool:
        return self.state == "active"

    @property
    def private(self) -> bool:
        return bool(self.group["visibility"] == "private")


class GroupService:
    def __init__(self, repo: GroupRepository, *, on_events: Callable[[], None]) -> None:
        self.repo = repo
        self.on_events = on_events

    async def create(self, cmd: NewGroup, principal: Principal) -> dict[str, Any]:
        group, owner, event = domain.create_group(cmd, creator=principal.user_id, now=now_ms())
        try:
            await self.repo.add_group(group, event)
        except SlugTaken as exc:
            raise GroupConflict(f"slug {cmd.slug!r} is taken") from exc
        await self.repo.ensure_owner(owner)
        self.on_events()
        log.info("activity.group.created", group_id=group["_id"], visibility=cmd.visibility)
        return {k: v for k, v in group.items() if k != "_applied"}

    async def seen(self, principal: Principal, group: dict[str, Any] | None) -> Seen:
        """The group if the caller may see its card; GroupNotFound otherwise."""
        if group is None:
            raise GroupNotFound
        membership = await self.repo.membership(group["_id"], principal.user_id)
        view = Seen(group, membership)
        if view.private and view.state == "none" and not principal.is_admin:
            raise GroupNotFound
        return view

    async def get(self, principal: Principal, group_id: str) -> Seen:
        return await self.seen(principal, await self.repo.group(group_id))

    async def by_slug(self, principal: Principal, slug: str) -> Seen:
        return await self.seen(principal, await self.repo.group_by_slug(slug))

    async def content(self, principal: Principal, group_id: str) -> Seen:
        """The group if the caller may see what is inside (members): public, or a member."""
        view = await self.get(principal, group_id)
        if view.private and not view.is_member:
            raise GroupNotFound
        return view

    async def list(
        self, principal: Principal, *, mine: bool, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        ids = sorted(await self.repo.my_group_ids(principal.user_id))
        if mine:
            if not ids:
                return []
            filter: dict[str, Any] = {"_id": {"$in": ids}}
        elif principal.is_admin:
            filter = {}
        else:
            clauses: list[dict[str, Any]] = [{"visibility": "public"}]
            if ids:
                clauses.append({"_id": {"$in": ids}})
            filter = {"$or": clauses}
        return await self.repo.list_groups(filter, limit=limit, after=after)

    async def edit(
        self, principal: Principal, group_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        view = await self.get(principal, group_id)
        if not domain.may_manage(view.role):
            raise NotAllowed("only the group's owners and admins may edit it")
        group = view.group
        fields, event = domain.update_group(group, changes, actor=principal.user_id, now=now_ms())
        if not await self.repo.update_group(group, fields, event):
            raise GroupConflict("the group changed meanwhile: read it again and retry")
        self.on_events()
        if fields.get("visibility", group["visibility"]) != group["visibility"]:
            await self.repo.settle_visibility(group_id)
        log.info("activity.group.updated", group_id=group_id, fields=sorted(fields))
        return {**group, **fields}

    async def delete(self, principal: Principal, group_id: str) -> None:
        view = await self.get(principal, group_id)
        if view.role != "owner" and not principal.is_admin:
            raise NotAllowed("only the group's owners or an org admin may delete it")
        now = now_ms()
        event = domain.delete_group(view.group, actor=principal.user_id, now=now)
        fields = {
            "deleted": True,
            "deleted_at": now,
            "deleted_by": principal.user_id,
            "revision": view.group["revision"] + 1,
        }
        if not await self.repo.update_group(view.group, fields, event):
            raise GroupConflict("the group changed meanwhile: read it again and retry")
        self.on_events()
        # Items of a deleted group read as private; Access counts no one a member of it.
        await self.repo.settle_visibility(group_id)
        log.info("activity.group.deleted", group_id=group_id, by_admin=view.role != "owner")

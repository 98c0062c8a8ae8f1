"""Posts use cases: what a route asks for, in domain terms; visibility through Access."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.activity.access import Access
from services.activity.directory import Directory
from services.activity.posts.domain import (
    Content,
    NewPost,
    Placement,
    create_post,
    delete_post,
    edit_post,
    edited,
    pin_post,
    prepare,
)
from services.activity.posts.repository import PostRepository
from shared.events.envelope import Event
from shared.http.auth.principal import Principal

log = structlog.get_logger()


class PostNotFound(LookupError):
    """Unknown, deleted, or not visible to the caller (all the same to the caller)."""


class GroupNotFound(LookupError):
    """Unknown group, or a private group the caller is not a member of."""


class NotAllowed(PermissionError):
    """The caller sees the thing but may not do this to it."""


class EditConflict(RuntimeError):
    """The post changed between read and write; the client should re-read and retry."""


class PostService:
    def __init__(
        self,
        repo: PostRepository,
        access: Access,
        directory: Directory,
        *,
        on_events: Callable[[], None],
    ) -> None:
        self._repo = repo
        self._access = access
        self._directory = directory
        self._on_events = on_events

    async def publish(
        self, cmd: NewPost, *, author: Principal, group_id: str | None
    ) -> dict[str, Any]:
        content = prepare(cmd)
        placement = await self._placement(author, group_id)
        mentions = await self._mentions(content)
        doc, event = create_post(
            content,
            author_id=author.user_id,
            placement=placement,
            mentions=mentions,
            now=_now(),
            member_mentions=await self._member_mentions(
                placement.group_id, placement.group_visibility, mentions
            ),
        )
        await self._repo.add(doc, [event])
        self._on_events()
        await self._access.hold_copied_visibility(doc)
        log.info("activity.post.created", post_id=doc["_id"], kind=doc["kind"])
        return doc

    async def get(self, principal: Principal, post_id: str) -> dict[str, Any]:
        doc = await self._repo.get(post_id)
        if doc is None or not await self._access.can_read(principal, doc):
            raise PostNotFound(post_id)
        return doc

    async def readable(
        self, principal: Principal, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        readable = await self._access.readable_filter(principal)
        return await self._repo.readable(readable, limit=limit, after=after)

    async def edit(
        self, principal: Principal, post_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        post = await self._changeable(principal, post_id)
        content = prepare(edited(post, changes))
        mentions = await self._mentions(content)
        fields, event = edit_post(
            post,
            content,
            editor_id=principal.user_id,
            mentions=mentions,
            now=_now(),
            member_mentions=await self._member_mentions(
                post.get("group_id"), post.get("group_visibility"), mentions
            ),
        )
        doc = await self._write(post, fields, event)
        log.info("activity.post.updated", post_id=post_id, revision=doc["revision"])
        return doc

    async def delete(self, principal: Principal, post_id: str) -> None:
        post = await self._changeable(principal, post_id)
        fields, event = delete_post(post, deleted_by=principal.user_id, now=_now())
        await self._write(post, fields, event)
        log.info("activity.post.deleted", post_id=post_id)

    async def pin(self, principal: Principal, post_id: str, *, pinned: bool) -> dict[str, Any]:
        post = await self.get(principal, post_id)
        if not await self._may_pin(principal, post):
            raise NotAllowed("only the group's admins (org posts: admins) may pin")
        if post.get("pinned", False) == pinned:
            return post
        fields, event = pin_post(post, pinned=pinned, by=principal.user_id, now=_now())
        doc = await self._write(post, fields, event)
        log.info("activity.post.pinned", post_id=post_id, pinned=pinned)
        return doc

    async def people(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Display data (id, handle, display_name, avatar_url) of authors and the mentioned."""
        return await self._directory.people(user_ids)

    async def _changeable(self, principal: Principal, post_id: str) -> dict[str, Any]:
        post = await self.get(principal, post_id)
        if post["author_id"] != principal.user_id and not await self._access.can_moderate(
            principal, post
        ):
            raise NotAllowed("only the author, a group admin or a moderator may change a post")
        return post

    async def _may_pin(self, principal: Principal, post: dict[str, Any]) -> bool:
        if post["audience"] == "group":
            role = await self._access.role_in(post["group_id"], principal.user_id)
            return role in ("owner", "admin")
        return principal.is_admin

    async def _write(
        self, post: dict[str, Any], fields: dict[str, Any], event: Event
    ) -> dict[str, Any]:
        doc = await self._repo.update(post, fields, [event])
        if doc is None:
            raise EditConflict(post["_id"])
        self._on_events()
        return doc

    async def _placement(self, author: Principal, group_id: str | None) -> Placement:
        if group_id is None:
            return Placement()
        group = await self._access.group(group_id)
        if group is None or not await self._access.can_see_group(author, group):
            raise GroupNotFound(group_id)
        if await self._access.role_in(group_id, author.user_id) is None:
            raise NotAllowed("only the group's members may post in it")
        return Placement(
            audience="group", group_id=group_id, group_visibility=group.get("visibility", "public")
        )

    async def _member_mentions(
        self, group_id: str | None, visibility: str | None, mentions: list[str]
    ) -> list[str] | None:
        """In a private group, who of the mentioned may be told (members, now)."""
        if group_id is None or visibility != "private":
            return None
        return await self._access.active_members_among(group_id, mentions)

    async def _mentions(self, content: Content) -> list[str]:
        resolved = await self._directory.resolve_handles(content.handles)
        return [resolved[h] for h in content.handles if h in resolved]


def _now() -> datetime:
    """Now, to the millisecond: what every store keeps, so a response equals a re-read."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)

"""Comments and reactions use cases: visibility first, then the rule, then one write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.activity.access import Access, member_mentions
from services.activity.directory import Directory
from services.activity.discussion import domain
from services.activity.discussion.domain import TargetType
from services.activity.discussion.repository import DiscussionRepository
from services.activity.rules import CAS_ATTEMPTS, ChangedMeanwhile, Invisible, placement
from shared.http.auth.principal import Principal

log = structlog.get_logger()


def _now() -> datetime:
    return datetime.now(UTC)


class DiscussionService:
    def __init__(
        self,
        repo: DiscussionRepository,
        access: Access,
        directory: Directory,
        *,
        on_events: Callable[[], None],
    ) -> None:
        self._repo = repo
        self._access = access
        self._directory = directory
        self._on_events = on_events

    async def visible(
        self, principal: Principal, target_type: TargetType, target_id: str
    ) -> dict[str, Any]:
        target = await self._repo.target(target_type, target_id)
        if target is None or not await self._access.can_read(principal, target):
            raise Invisible(f"{target_type} {target_id} not found")
        return target

    async def people(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Display data (id, handle, display_name, avatar_url) of authors and the mentioned."""
        return await self._directory.people(user_ids)

    # comments

    async def read_comment(self, principal: Principal, comment_id: str) -> dict[str, Any]:
        """One live comment; a comment of a deleted or invisible post is as invisible."""
        comment = await self.visible(principal, "comment", comment_id)
        await self.visible(principal, "post", comment["post_id"])
        return comment

    async def comment(
        self, principal: Principal, post_id: str, text: str, parent_id: str | None
    ) -> dict[str, Any]:
        post = await self.visible(principal, "post", post_id)
        parent = None
        if parent_id is not None:
            parent = await self._repo.comment(parent_id)
            if parent is None or parent["post_id"] != post_id:
                raise domain.DiscussionRuleViolation(f"parent_id {parent_id}: no such comment")
        body = domain.comment_body(text)
        resolved = await self._directory.resolve_handles(body.handles)
        mentions = [resolved[h] for h in body.handles if h in resolved]
        doc, event = domain.new_comment(
            post,
            parent,
            body,
            mentions=mentions,
            author_id=principal.user_id,
            now=_now(),
            member_mentions=await member_mentions(self._access, post, mentions),
        )
        if parent is not None:
            # Before the reply exists: a crash here leaves a harmless flag, never a
            # reply whose deleted parent vanishes.
            await self._repo.mark_has_replies(parent["_id"])
        await self._repo.add_comment(doc, [event])
        self._on_events()
        await self._access.hold_copied_visibility(doc)
        log.info("activity.comment.created", comment_id=doc["_id"], post_id=post_id)
        return doc

    async def thread(
        self, principal: Principal, post_id: str, *, limit: int, after: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        await self.visible(principal, "post", post_id)
        docs = await self._repo.thread(post_id, limit=limit, after=after)
        return [domain.as_shown(d) for d in docs]

    async def delete_comment(self, principal: Principal, comment_id: str) -> None:
        comment = await self.visible(principal, "comment", comment_id)
        moderator = await self._access.can_moderate(principal, comment)
        domain.may_delete(comment, principal.user_id, moderator=moderator)
        now = _now()
        event = domain.delete_comment(comment, by=principal.user_id, now=now)
        if not await self._repo.delete_comment(comment_id, at=now, events=[event]):
            raise Invisible(f"comment {comment_id} not found")
        self._on_events()
        log.info("activity.comment.deleted", comment_id=comment_id)

    # reactions

    async def react(
        self, principal: Principal, target_type: TargetType, target_id: str, kind: str | None
    ) -> dict[str, Any]:
        """Set (`kind`) or remove (None) the caller's one reaction on a target."""
        target = await self.visible(principal, target_type, target_id)
        user = principal.user_id
        rid = domain.reaction_id(target_type, target_id, user)
        for _ in range(CAS_ATTEMPTS):
            current = await self._repo.reaction(rid)
            previous = current["kind"] if current else None
            if previous == kind:
                return {"kind": kind, "previous_kind": previous}
            now = _now()
            event = domain.reaction_event(
                target_type,
                target,
                post_id=domain.containing_post(target_type, target),
                user_id=user,
                kind=kind,
                previous=previous,
                now=now,
            )
            doc = {
                "_id": rid,
                "target_type": target_type,
                "target_id": target_id,
                "user_id": user,
                "kind": kind,
                **placement(target),
                "created_at": now,
                "updated_at": now,
            }
            if await self._repo.write_reaction(current, doc, [event]):
                self._on_events()
                await self._access.hold_copied_visibility(doc)
                log.info("activity.reaction.set", reaction_id=rid, kind=kind)
                return {"kind": kind, "previous_kind": previous}
        raise ChangedMeanwhile("too many concurrent changes; retry")

    async def reactions(
        self, principal: Principal, target_type: TargetType, target_id: str
    ) -> dict[str, Any]:
        """Counts kept on the target (never counted on read) and the caller's reaction."""
        target = await self.visible(principal, target_type, target_id)
        mine = await self._repo.reaction(
            domain.reaction_id(target_type, target_id, principal.user_id)
        )
        by_kind = target.get("reactions_by_kind") or {}
        return {
            "total": (target.get("counts") or {}).get("reactions", 0),
            "by_kind": {k: by_kind.get(k, 0) for k in domain.REACTION_KINDS},
            "mine": mine["kind"] if mine else None,
        }

"""The in-app inbox's HTTP routes: list, unread count, mark read (one, group, all), seen.

No `from __future__ import annotations`: FastAPI resolves the dependency aliases at
definition time.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from services.notify.inbox import examples
from services.notify.inbox.domain import group_summary
from services.notify.inbox.service import Inbox, NotificationNotFound
from services.notify.preferences.domain import TYPES
from shared.http import NotFound, Page, PageDep, PrincipalDep, problem_type

ITEMS_PER_GROUP = 10
Id = Annotated[str, Path(min_length=1, max_length=64)]


class Target(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TARGET]})

    type: str
    id: str


class NotificationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.NOTIFICATION]})

    id: str
    type: str
    actor_id: str | None
    target: Target
    title: str
    summary: str
    link: str
    critical: bool
    private: bool
    created_at: datetime
    seq: int
    read: bool
    read_at: datetime | None
    seen: bool

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "NotificationOut":
        return cls.model_validate(
            {
                **doc,
                "id": doc["_id"],
                "read": doc.get("read_at") is not None,
                "seen": doc.get("seen_at") is not None,
            }
        )


class GroupOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.GROUP]})

    id: str
    type: str
    target: Target
    count: int
    unread: int
    actors: list[str]
    actor_count: int
    summary: str
    link: str
    critical: bool
    latest_at: datetime
    items: list[NotificationOut]


class UnreadCount(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.UNREAD]})

    unread: int
    unseen: int


class Marked(BaseModel):
    marked: int


def _group_out(doc: dict[str, Any], items: list[dict[str, Any]]) -> GroupOut:
    actors = list(doc.get("actors") or [])
    # A group with many actors names the latest ACTORS_KEPT and counts them all.
    actor_count = int(doc.get("actor_count", len(actors)))
    last = doc.get("last_actor_id")
    ordered = [a for a in actors if a != last] + ([last] if last else [])
    return GroupOut(
        id=doc["_id"],
        type=doc["type"],
        target=Target(**doc["target"]),
        count=int(doc.get("count", 0)),
        unread=max(0, int(doc.get("unread", 0))),
        actors=ordered[-5:][::-1],
        actor_count=actor_count,
        summary=group_summary(doc["type"], doc["target"]["type"], ordered, actor_count),
        link=doc.get("link", "/notifications"),
        critical=bool(doc.get("critical")),
        latest_at=doc["latest_at"],
        items=[NotificationOut.of(i) for i in items],
    )


def _not_found(what: str) -> NotFound:
    return NotFound(f"no such {what}", type=problem_type("not-found"))


def build_router(inbox: Inbox, route_class: type[APIRoute]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["notifications"], route_class=route_class)

    @router.get("/notifications")
    async def list_notifications(
        principal: PrincipalDep,
        page: PageDep,
        unread: bool = False,
        type: Annotated[str | None, Query(max_length=64, pattern="^[a-z._]+$")] = None,
    ) -> Page[GroupOut]:
        """Your notifications, grouped (newest first), each group with its latest items."""
        if type is not None and type not in TYPES:
            return Page(items=[])
        groups = await inbox.repo.group_page(
            principal.user_id,
            unread=unread,
            type_=type,
            limit=page.fetch_limit,
            after=page.after,
        )
        shown = groups[: page.limit]
        by_group: dict[str, list[dict[str, Any]]] = {g["_id"]: [] for g in shown}
        items = await inbox.repo.items_of(shown, per_group=ITEMS_PER_GROUP, unread=unread)
        for item in items:
            bucket = by_group[item["group_id"]]
            if len(bucket) < ITEMS_PER_GROUP:
                bucket.append(item)
        out = [_group_out(g, by_group.get(g["_id"], [])) for g in groups]
        result = page.page(out, lambda g: {"latest_at": g.latest_at, "_id": g.id})
        # A group is written a moment before its first notification: between the two it
        # has nothing to show, so it waits for the next page load (the cursor still moves
        # past it, and a new group sorts first, so nothing is skipped for good).
        result.items = [g for g in result.items if g.items]
        return result

    @router.get("/notifications/unread-count")
    async def unread_count(principal: PrincipalDep) -> UnreadCount:
        """How many notifications you have not read (and not seen: the badge)."""
        counter = await inbox.repo.counter(principal.user_id)
        return UnreadCount(unread=counter["unread"], unseen=counter["unseen"])

    @router.post("/notifications/{notification_id}/read")
    async def mark_read(notification_id: Id, principal: PrincipalDep) -> UnreadCount:
        """Mark one notification read (on every device)."""
        try:
            await inbox.mark_one(principal.user_id, notification_id)
        except NotificationNotFound:
            raise _not_found("notification") from None
        return await unread_count(principal)

    @router.post("/notifications/groups/{group_id}/read")
    async def mark_group_read(group_id: Id, principal: PrincipalDep) -> UnreadCount:
        """Mark every notification of a group read."""
        try:
            await inbox.mark_group(principal.user_id, group_id)
        except NotificationNotFound:
            raise _not_found("notification group") from None
        return await unread_count(principal)

    @router.post("/notifications/read-all")
    async def mark_all_read(principal: PrincipalDep) -> UnreadCount:
        """Mark all your notifications read."""
        await inbox.mark_all(principal.user_id)
        return await unread_count(principal)

    @router.post("/notifications/seen")
    async def mark_seen(principal: PrincipalDep) -> UnreadCount:
        """Mark everything up to now seen (clears the badge; read state is unchanged)."""
        await inbox.mark_seen(principal.user_id)
        return await unread_count(principal)

    return router

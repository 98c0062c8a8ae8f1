"""Helpers for the inbox, stream and preferences tests: publish activity/profiles events
on the bus the notify service consumes, and read the inbox over HTTP. (No tests here.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.notify.inbox.routes import ITEMS_PER_GROUP
from shared.backends import make_bus
from shared.bus.port import EventBus
from shared.events import Event
from shared.events.envelope import EventData, new_event
from shared.events.schemas.activity import TOPIC as ACTIVITY_TOPIC
from shared.events.schemas.activity.discussion import (
    AnswerAccepted,
    AnswerCreated,
    CommentCreated,
    ReactionSet,
)
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostPinned
from shared.events.schemas.activity.social import FollowCreated, MembershipChanged
from shared.events.schemas.profiles import TOPIC as PROFILES_TOPIC
from shared.events.schemas.profiles_expertise import ExpertiseChanged
from shared.settings import CanteenSettings
from tests.support import eventually

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def uid(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def bus(settings: CanteenSettings) -> AsyncIterator[EventBus]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bus = make_bus(settings, "test-publisher", topics=[ACTIVITY_TOPIC, PROFILES_TOPIC])
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()


async def publish(bus: EventBus, *payloads: EventData) -> list[Event]:
    events = [new_event(p) for p in payloads]
    for event, payload in zip(events, payloads, strict=True):
        await bus.publish(event, topic=payload.topic)
    return events


def group_place(group_id: str | None, visibility: str | None) -> dict[str, Any]:
    if group_id is None:
        return {"audience": "org", "group_id": None, "group_visibility": None}
    return {"audience": "group", "group_id": group_id, "group_visibility": visibility}


def post(
    author: str,
    *,
    kind: str = "note",
    mentions: list[str] | None = None,
    topics: list[str] | None = None,
    group: str | None = None,
    visibility: str | None = None,
    post_id: str | None = None,
) -> PostCreated:
    return PostCreated(
        id=post_id or uid("post"),
        kind=kind,
        author_id=author,
        text="Hello there",  # type: ignore[arg-type]
        title="A title",
        topics=topics or [],
        mentions=mentions or [],
        created_at=NOW,
        **group_place(group, visibility),
    )


def answer(question_id: str, asker: str, author: str, **kw: Any) -> AnswerCreated:
    place = group_place(kw.pop("group", None), kw.pop("visibility", None))
    return AnswerCreated(
        id=uid("answer"),
        question_id=question_id,
        question_author_id=asker,
        author_id=author,
        text="Try this",
        created_at=NOW,
        **place,
        **kw,
    )


def accepted(question_id: str, answer_id: str, answerer: str, asker: str) -> AnswerAccepted:
    return AnswerAccepted(
        question_id=question_id,
        answer_id=answer_id,
        answer_author_id=answerer,
        asker_id=asker,
        accepted=True,
        decided_by=asker,
        at=NOW,
        audience="org",
    )


def comment(post_id: str, post_author: str, author: str, **kw: Any) -> CommentCreated:
    place = group_place(kw.pop("group", None), kw.pop("visibility", None))
    return CommentCreated(
        id=uid("comment"),
        post_id=post_id,
        post_author_id=post_author,
        author_id=author,
        text="Nice",
        created_at=NOW,
        **place,
        **kw,
    )


def reaction(
    target_type: str, target_id: str, target_author: str, user: str, post_id: str
) -> ReactionSet:
    return ReactionSet(
        id=f"{target_type}:{target_id}:{user}",
        target_type=target_type,  # type: ignore[arg-type]
        target_id=target_id,
        target_author_id=target_author,
        post_id=post_id,
        user_id=user,
        at=NOW,
        kind="like",
        audience="org",
    )


def follow(follower: str, target: str) -> FollowCreated:
    return FollowCreated(
        id=f"{follower}:person:{target}",
        follower_id=follower,
        target_type="person",
        target_id=target,
        created_at=NOW,
    )


def membership(
    group_id: str,
    user: str,
    change: str,
    state: str,
    *,
    actor: str,
    visibility: str = "private",
    role: str | None = None,
    admins: list[str] | None = None,
) -> MembershipChanged:
    return MembershipChanged(
        group_id=group_id,
        user_id=user,
        change=change,
        state=state,  # type: ignore[arg-type]
        previous_state="none",
        role=role,
        actor_id=actor,  # type: ignore[arg-type]
        group_visibility=visibility,
        group_slug=group_id,
        group_name=f"Group {group_id}",  # type: ignore[arg-type]
        admin_ids=admins or [],
        changed_at=NOW,
    )


def pinned(
    post_id: str, author: str, by: str, group: str, visibility: str = "private"
) -> PostPinned:
    return PostPinned(
        id=post_id,
        kind="note",
        author_id=author,
        pinned=True,
        pinned_by=by,
        text="Read me",
        title="Important",
        at=NOW,
        **group_place(group, visibility),
    )


def deleted(post_id: str, author: str) -> PostDeleted:
    return PostDeleted(
        id=post_id,
        kind="note",
        author_id=author,
        deleted_by=author,
        audience="org",
        deleted_at=NOW,
    )


def expertise(person: str, topic: str, score: float) -> ExpertiseChanged:
    return ExpertiseChanged(
        id=f"{person}:{topic}",
        person_id=person,
        topic_id=topic,
        score=score,
        score_ref=score,
        at=NOW,
    )


async def inbox(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/notifications", headers=headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def wait_inbox(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    n: int = 1,
    within: float = 60,
    **params: Any,
) -> list[dict[str, Any]]:
    """Wait until the inbox holds `n` notifications in all (over its groups), each group
    with its items: a group and its notifications are separate writes, and a reader may
    see the group's count a moment before the item it counts."""

    async def probe() -> list[dict[str, Any]]:
        return await inbox(client, headers, **params)

    def settled(groups: list[dict[str, Any]]) -> bool:
        listed = all(len(g["items"]) == min(g["count"], ITEMS_PER_GROUP) for g in groups)
        return listed and sum(g["count"] for g in groups) >= n

    return await eventually(probe, until=settled, within=within)


async def unread(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/api/v1/notifications/unread-count", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["unread"])


async def join(
    bus: EventBus,
    client: httpx.AsyncClient,
    login: Any,
    group_id: str,
    *members: str,
    admin: str = "owner",
) -> None:
    """Make `members` active members of `group_id` in notify's projection (and wait for it):
    an approval notifies the member, so its arrival proves the projection applied it."""
    await publish(
        bus,
        *[
            membership(group_id, m, "approved", "active", actor=admin, role="member")
            for m in members
        ],
    )
    for m in members:
        await wait_inbox(client, await login(m), type="group.approved")


async def wait_unread(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> int:
    """The counter trails the group by one write: wait for it to settle on `n`."""
    return await eventually(lambda: unread(client, headers), until=lambda u: u == n, within=30)


async def publish_at(bus: EventBus, payload: EventData, at: datetime) -> Event:
    """Publish with a chosen event time (aggregation buckets derive from it)."""
    event = new_event(payload).model_copy(update={"time": at})
    await bus.publish(event, topic=payload.topic)
    return event


async def publish_behind(bus: EventBus, earlier: Event, payload: EventData) -> Event:
    """Publish `payload` under `earlier`'s key, so on its partition, where a consumer handles
    it after `earlier`. A negative check waits for this event's notification (then
    `earlier` was handled too), never for a while."""
    event = new_event(payload).model_copy(update={"subject": earlier.subject})
    await bus.publish(event, topic=payload.topic)
    return event

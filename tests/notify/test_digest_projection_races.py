"""The digest projections (services/notify/email/projections.py) under concurrent handlers.

A post's events (key: post id), its group's events (key: group id) and its comments',
answers' and reactions' events (keys: their own ids) are handled concurrently, so any of
them may be applied before the others. Whatever the order, a digest never shows a post of
a private or deleted group, and the activity score counts every bump exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from services.notify.email.projections import POSTS, DigestProjections, build_dispatcher
from shared.bus.port import MAX_BATCH
from shared.events.envelope import Event, new_event
from shared.events.schemas.activity.discussion import AnswerCreated, CommentCreated, ReactionSet
from shared.events.schemas.activity.posts import PostCreated
from shared.events.schemas.activity.social import FollowCreated, GroupDeleted, GroupUpdated
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.notify.test_email_digest import MONDAY_9, scheduler
from tests.notify.test_inbox_support import comment
from tests.support import service_store

AT = MONDAY_9 - timedelta(hours=3)
Dispatch = Callable[[Event], Awaitable[None]]
PUBLIC_IN_G = {"audience": "group", "group_id": "g", "group_visibility": "public"}
CARD = {"slug": "g", "name": "G", "join_policy": "open", "owner_id": "bo", "actor_id": "bo"}


@pytest.fixture
async def store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    async with service_store(settings, "notify") as handle:
        await DigestProjections(handle).prepare()
        yield handle


@pytest.fixture
async def dispatch(store: DocumentStore) -> Dispatch:
    """Ana follows `python` and has it as expertise: every post below is for her digest."""
    handler = build_dispatcher(DigestProjections(store))
    follow = FollowCreated(
        id="ana:topic:python",
        follower_id="ana",
        target_type="topic",
        target_id="python",
        created_at=AT,
    )
    await handler(new_event(follow))
    await store.collection("digest_expertise").insert_one(
        {"_id": "ana:python", "person_id": "ana", "topic": "python"}
    )
    return handler


def post(post_id: str, **place: Any) -> Event:
    """An open question in `python`, placed as given (org-wide by default)."""
    return new_event(
        PostCreated(
            id=post_id,
            kind="question",
            author_id="bo",
            title=f"title of {post_id}",
            text="...",
            topics=["python"],
            created_at=AT,
            **(place or {"audience": "org"}),
        )
    )


def group_turned(visibility: str, revision: int) -> Event:
    previous = "public" if visibility == "private" else "private"
    return new_event(
        GroupUpdated(
            id="g",
            visibility=visibility,
            previous_visibility=previous,
            revision=revision,
            updated_at=AT,
            **CARD,
        )
    )


def group_deleted() -> Event:
    return new_event(GroupDeleted(id="g", visibility="public", deleted_at=AT, **CARD))


async def shown(store: DocumentStore, settings: CanteenSettings) -> dict[str, list[str]]:
    """Titles in Ana's digest: its followed-topic posts and its open questions."""
    content = await scheduler(store, settings).content("ana", "daily", MONDAY_9)
    return {
        "posts": sorted(p["title"] for p in content.posts),
        "questions": sorted(q["title"] for q in content.questions),
    }


@pytest.mark.parametrize("change", ["private", "deleted"])
async def test_a_post_created_after_its_group_was_hidden_stays_out_of_the_digest(
    store: DocumentStore, settings: CanteenSettings, dispatch: Dispatch, change: str
) -> None:
    """The group's handler takes the group's posts out first; the post's lagging
    PostCreated (written while the group was public) comes after and must not put it back."""
    await dispatch(post("p-org"))
    await dispatch(group_turned("private", 1) if change == "private" else group_deleted())
    await dispatch(post("p-g", **PUBLIC_IN_G))
    if change == "deleted":  # an older update redelivered after the delete changes nothing
        await dispatch(group_turned("public", 1))
        await dispatch(post("p-g", **PUBLIC_IN_G))

    assert await shown(store, settings) == {
        "posts": ["title of p-org"],
        "questions": ["title of p-org"],
    }
    if change == "deleted":  # nothing of a deleted group stays behind
        assert await store.collection(POSTS).count({"group_id": "g"}) == 0
    # A page the hidden post would have filled is filled by the next post instead.
    first = await DigestProjections(store).top_posts(
        ["python"], since=AT, until=MONDAY_9, exclude_author="ana", limit=1
    )
    assert [p["_id"] for p in first] == ["p-org"]


async def test_the_digest_never_shows_the_post_while_its_handler_is_mid_way(
    store: DocumentStore, settings: CanteenSettings
) -> None:
    """A digest built while the post's handler is between its upsert and its look at the
    group (and any time after) leaves the post out."""
    projections = DigestProjections(store)
    handler = build_dispatcher(projections)
    await handler(
        new_event(
            FollowCreated(
                id="ana:topic:python",
                follower_id="ana",
                target_type="topic",
                target_id="python",
                created_at=AT,
            )
        )
    )
    await handler(group_turned("private", 1))

    landed, resume = asyncio.Event(), asyncio.Event()
    upsert = projections.posts.update_one

    async def held_after_write(*args: Any, **kwargs: Any) -> Any:
        result = await upsert(*args, **kwargs)
        landed.set()
        await resume.wait()
        return result

    projections.posts.update_one = held_after_write  # type: ignore[method-assign]
    late = asyncio.create_task(handler(post("p-g", **PUBLIC_IN_G)))
    try:
        await landed.wait()
        assert await store.collection(POSTS).count({"_id": "p-g"}) == 1  # the window is open
        assert (await shown(store, settings))["posts"] == []
    finally:
        resume.set()
        await late
    assert (await shown(store, settings))["posts"] == []


async def test_a_group_made_public_again_keeps_its_late_posts_through_a_stale_redelivery(
    store: DocumentStore, settings: CanteenSettings, dispatch: Dispatch
) -> None:
    """private (rev 1) then public (rev 2): a post written while public is shown, and a
    redelivered rev 1 (older than what is recorded) neither hides it nor drops it."""
    private, public = group_turned("private", 1), group_turned("public", 2)
    await dispatch(private)
    await dispatch(public)
    await dispatch(post("p-g", **PUBLIC_IN_G))
    await dispatch(private)  # redelivered after rev 2

    assert (await shown(store, settings))["posts"] == ["title of p-g"]


async def test_a_post_written_after_the_group_is_public_again_is_not_lost(
    store: DocumentStore, settings: CanteenSettings, dispatch: Dispatch
) -> None:
    """Written under rev 2 (public again) but handled before rev 2 is: hidden until rev 2
    is handled, then shown."""
    await dispatch(group_turned("private", 1))
    await dispatch(post("p-g", **PUBLIC_IN_G))
    assert (await shown(store, settings))["posts"] == []
    await dispatch(group_turned("public", 2))
    assert (await shown(store, settings))["posts"] == ["title of p-g"]


def bumps(post_id: str, **place: Any) -> list[Event]:
    """A comment, an answer and a first reaction on a post: +1 each."""
    where = place or {"audience": "org"}
    common = {"author_id": "cy", "created_at": AT, **where}
    return [
        new_event(
            CommentCreated(
                id=f"c-{post_id}", post_id=post_id, post_author_id="bo", text="+1", **common
            )
        ),
        new_event(
            AnswerCreated(
                id=f"a-{post_id}",
                question_id=post_id,
                question_author_id="bo",
                text="use a dict",
                **common,
            )
        ),
        new_event(
            ReactionSet(
                id=f"post:{post_id}:cy",
                target_type="post",
                target_id=post_id,
                target_author_id="bo",
                post_id=post_id,
                user_id="cy",
                kind="like",
                at=AT,
                **where,
            )
        ),
    ]


async def test_activity_handled_before_the_post_is_counted_once(
    store: DocumentStore, settings: CanteenSettings, dispatch: Dispatch
) -> None:
    """Comments, answers and reactions travel on their own partitions and may be handled
    before the post's PostCreated; redelivered, they are not counted twice."""
    early = bumps("p-busy")
    for event in early:
        await dispatch(event)
    await dispatch(post("p-busy"))
    await dispatch(post("p-quiet"))

    async def score() -> int:
        doc = await store.collection(POSTS).find_one({"_id": "p-busy"})
        assert doc is not None and doc["title"] == "title of p-busy"
        return int(doc["score"])

    assert await score() == 3
    for event in [*early, post("p-busy"), *early]:
        await dispatch(event)  # redelivered, before and after the post's own redelivery
    assert await score() == 3
    content = await scheduler(store, settings).content("ana", "daily", MONDAY_9)
    assert [p["_id"] for p in content.posts] == ["p-busy", "p-quiet"]


@pytest.mark.parametrize("change", ["private", "deleted"])
async def test_early_activity_on_a_private_or_hidden_post_shows_nothing(
    store: DocumentStore, settings: CanteenSettings, dispatch: Dispatch, change: str
) -> None:
    """A bump never starts the entry of a private group's post; one started for a group
    hidden since is never shown (and gone once the group is deleted)."""
    for event in bumps("p-private", audience="group", group_id="s", group_visibility="private"):
        await dispatch(event)
    await dispatch(group_turned("private", 1) if change == "private" else group_deleted())
    for event in bumps("p-g", **PUBLIC_IN_G):  # written while g was public, handled after
        await dispatch(event)
    await dispatch(post("p-g", **PUBLIC_IN_G))

    assert await shown(store, settings) == {"posts": [], "questions": []}
    assert await store.collection(POSTS).count({"_id": "p-private"}) == 0
    if change == "deleted":
        assert await store.collection(POSTS).count({}) == 0


async def test_a_batch_of_activity_leaves_what_one_event_at_a_time_leaves(
    store: DocumentStore, settings: CanteenSettings, dispatch: Dispatch
) -> None:
    """The bus hands the digest consumer runs of comments, answers and reactions at once
    (`bump_all`): posts known or not yet, public or private, a group deleted before its
    post's activity, repeats inside the run and a whole redelivery end as they do per
    event."""
    private = {"audience": "group", "group_id": "s", "group_visibility": "private"}
    activity = [
        *bumps("p-known"),
        *bumps("p-early"),
        *bumps("p-private", **private),
        *bumps("p-g", **PUBLIC_IN_G),
    ]
    activity.insert(2, activity[1])  # delivered twice within the run

    async with service_store(settings, "notify_batch") as other:
        await DigestProjections(other).prepare()
        batched = build_dispatcher(DigestProjections(other))
        for handle in (dispatch, batched):  # the same history before the run
            await handle(post("p-known"))
            await handle(group_deleted())
        for event in [*activity, *activity]:  # and redelivered
            await dispatch(event)
        await batched.handle_batch(activity)
        await batched.handle_batch(activity)  # redelivered whole
        await batched.handle_batch(activity[4:9])  # and cut elsewhere

        def entries(docs: list[dict[str, Any]]) -> dict[str, Any]:
            return {d["_id"]: {**d, "_applied": sorted(d["_applied"])} for d in docs}

        expected = entries(await store.collection(POSTS).find({}))
        got = entries(await other.collection(POSTS).find({}))
    assert got == expected
    assert {k: v["score"] for k, v in got.items()} == {"p-known": 3, "p-early": 3}


async def test_a_whole_batch_about_one_post_redelivered_counts_once(
    store: DocumentStore, dispatch: Dispatch
) -> None:
    """A crash (or a failed batch replayed event by event) redelivers up to one batch of
    the subscription's size: a post's kept event ids must cover all of it, or the ones
    pushed out would count again."""
    comments = [new_event(comment("p-hot", "bo", f"fan{i}")) for i in range(MAX_BATCH)]
    batched = build_dispatcher(DigestProjections(store))
    await dispatch(post("p-hot"))
    await batched.handle_batch(comments)
    await batched.handle_batch(comments)  # redelivered whole
    for event in comments[:50]:  # and its start event by event
        await dispatch(event)
    entry = await store.collection(POSTS).find_one({"_id": "p-hot"})
    assert entry is not None
    assert entry["score"] == MAX_BATCH

"""Feed handlers of different keys racing one another: the interleavings an audit found.

Events with different keys are handled concurrently, so each test drives the bad order
step by step: one actor reads, the other runs to its end inside that read (the store
wrappers below), then the first goes on with what it read.

- A post's fan-out reads its audience; an unfollow or a leave is handled before it writes.
- Two trims of one timeline: the one that read an older cut-off sets the horizon last.
- Entries written below a timeline's horizon after its trim (a backfill, a lagging
  fan-out): removed, so a full home page never ends below the horizon.
- A post's entries are written with the group visibility its event carried, after the
  group's change of visibility was handled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

import pytest

from services.activity.access import Access
from services.activity.directory import Directory
from services.activity.feeds.audiences import AudienceLists, Kind
from services.activity.feeds.domain import timeline_entry
from services.activity.feeds.entries import EntryWriter
from services.activity.feeds.reader import FeedReader
from services.activity.feeds.repository import Sources, TimelineRepository
from services.activity.feeds.topic_index import TOPIC_INDEX, IndexingFanOut, TopicIndex
from shared.http import Principal
from shared.settings import CanteenSettings
from shared.store.port import Collection, DocumentStore
from tests.activity.test_feeds_support import T0, World
from tests.support import service_store

Step = Callable[[], Awaitable[None]]


@pytest.fixture
async def store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    async with service_store(settings, "activity") as store:
        yield store


class Steps:
    """Steps of the other actor, each run once, inside the n-th read it overtakes."""

    def __init__(self) -> None:
        self.pending: list[Step] = []
        self.done = 0

    async def run_next(self) -> None:
        if self.pending:
            step = self.pending.pop(0)
            await step()
            self.done += 1


class OvertakenLists(AudienceLists):
    """Audience lists whose reads of the `watched` source are overtaken by the steps."""

    def __init__(
        self, store: DocumentStore, sources: Sources, steps: Steps, watched: tuple[Kind, str]
    ) -> None:
        super().__init__(store, sources, cap=200)
        self._steps = steps
        self._watched = watched

    async def lists(self, sources: Iterable[tuple[Kind, str]]) -> dict[tuple[Kind, str], list[str]]:
        sources = list(sources)
        seen = await super().lists(sources)
        if self._watched in sources:
            await self._steps.run_next()
        return seen


class OvertakenSources(Sources):
    """Member reads (a private group's fan-out) overtaken by the steps."""

    def __init__(self, store: DocumentStore, steps: Steps) -> None:
        super().__init__(store)
        self._steps = steps

    async def members(self, group_id: str) -> list[str]:
        seen = await super().members(group_id)
        await self._steps.run_next()
        return seen


class Overtaken:
    """A collection whose `method` calls are overtaken by the steps once they return."""

    def __init__(self, inner: Collection, method: str, steps: Steps) -> None:
        self._inner = inner
        self._method = method
        self._steps = steps

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name != self._method:
            return found

        async def overtaken(*args: Any, **kwargs: Any) -> Any:
            result = await found(*args, **kwargs)
            await self._steps.run_next()
            return result

        return overtaken


def fan_out(
    store: DocumentStore,
    *,
    sources: Sources | None = None,
    audiences: AudienceLists | None = None,
    index: TopicIndex | None = None,
) -> IndexingFanOut:
    sources = sources or Sources(store)
    timelines = TimelineRepository(store)
    return IndexingFanOut(
        index or TopicIndex(store),
        timelines,
        sources,
        Access(store),
        threshold=100,
        cap=50,
        audiences=audiences or AudienceLists(store, sources, cap=200),
        writer=EntryWriter(store, timelines),
    )


def reader(store: DocumentStore) -> FeedReader:
    return FeedReader(
        TimelineRepository(store),
        Sources(store),
        Access(store),
        Directory(store),
        TopicIndex(store),
        threshold=100,
    )


async def follow(store: DocumentStore, follower: str, target_type: str, target: str) -> None:
    await store.collection("follows").insert_one(
        {
            "_id": f"{follower}:{target_type}:{target}",
            "follower_id": follower,
            "target_type": target_type,
            "target_id": target,
            "created_at": T0,
        }
    )


async def unfollow(store: DocumentStore, follower: str, target_type: str, target: str) -> None:
    await store.collection("follows").delete_one({"_id": f"{follower}:{target_type}:{target}"})


async def group(store: DocumentStore, group_id: str, visibility: str, members: list[str]) -> None:
    await store.collection("groups").insert_one(
        {"_id": group_id, "visibility": visibility, "deleted": False, "member_count": len(members)}
    )
    for user in members:
        await set_membership(store, group_id, user, "active")


async def set_membership(store: DocumentStore, group_id: str, user: str, state: str) -> None:
    await store.collection("memberships").update_one(
        {"_id": f"{group_id}:{user}"},
        {"$set": {"group_id": group_id, "user_id": user, "state": state}},
        upsert=True,
    )


async def set_group_visibility(store: DocumentStore, group_id: str, visibility: str) -> None:
    """As the groups feature does on an edit: the group, then its items (propagation)."""
    await store.collection("groups").update_one(
        {"_id": group_id}, {"$set": {"visibility": visibility}}
    )
    await store.collection("posts").update_many(
        {"group_id": group_id}, {"$set": {"group_visibility": visibility}}
    )


async def post(
    store: DocumentStore,
    n: int,
    author: str = "ana",
    *,
    topics: list[str] | None = None,
    group_id: str | None = None,
    visibility: str | None = None,
) -> dict[str, Any]:
    """A stored post; returns its post.created event data."""
    doc = {
        "_id": f"p{n:02}",
        "kind": "note",
        "author_id": author,
        "audience": "group" if group_id else "org",
        "group_id": group_id,
        "group_visibility": visibility,
        "title": None,
        "text": f"post {n}",
        "topics": topics or [],
        "created_at": T0 + timedelta(minutes=n),
        "deleted": False,
    }
    await store.collection("posts").insert_one(doc)
    return World.created_event(doc).model_dump()


async def holders(store: DocumentStore, post_id: str) -> list[str]:
    found = await store.collection("timelines").find({"post_id": post_id})
    return sorted(e["user_id"] for e in found)


# -- 1. a fan-out against an unfollow or a leave ----------------------------------------


@pytest.mark.parametrize("target_type", ["person", "topic"])
async def test_an_unfollow_handled_while_the_fan_out_read_its_audience_keeps_the_post_out(
    store: DocumentStore, target_type: str
) -> None:
    target: tuple[Kind, str] = ("person", "ana") if target_type == "person" else ("topic", "db")
    for follower in ("bo", "cy"):
        await follow(store, follower, *target)
    steps = Steps()
    sources = Sources(store)
    lists = OvertakenLists(store, sources, steps, target)
    fanout = fan_out(store, sources=sources, audiences=lists)
    event = await post(store, 1, topics=["db"])

    async def bo_unfollows() -> None:
        await unfollow(store, "bo", *target)
        await fanout.unfollowed("bo", *target)

    steps.pending = [bo_unfollows]
    await fanout.post_created(event)

    assert steps.done == 1
    assert await holders(store, "p01") == ["ana", "cy"]


async def test_a_leave_of_a_private_group_while_the_fan_out_read_its_members_keeps_the_post_out(
    store: DocumentStore,
) -> None:
    await group(store, "g", "private", ["ana", "bo", "cy"])
    steps = Steps()
    fanout = fan_out(store, sources=OvertakenSources(store, steps))
    event = await post(store, 1, group_id="g", visibility="private")

    async def bo_leaves() -> None:
        await set_membership(store, "g", "bo", "none")
        await fanout.membership_changed("bo", "g", active=False)
        await fanout.left("bo", "g", "private")

    steps.pending = [bo_leaves]
    await fanout.post_created(event)

    assert steps.done == 1
    assert await holders(store, "p01") == ["ana", "cy"]


async def test_a_leave_of_a_public_group_while_the_fan_out_read_its_members_keeps_the_post_out(
    store: DocumentStore,
) -> None:
    await group(store, "g", "public", ["ana", "bo", "cy"])
    steps = Steps()
    sources = Sources(store)
    lists = OvertakenLists(store, sources, steps, ("group", "g"))
    fanout = fan_out(store, sources=sources, audiences=lists)
    event = await post(store, 1, group_id="g", visibility="public")

    async def bo_leaves() -> None:
        await set_membership(store, "g", "bo", "none")
        await fanout.membership_changed("bo", "g", active=False)
        await fanout.left("bo", "g", "public")

    steps.pending = [bo_leaves]
    await fanout.post_created(event)

    assert steps.done == 1
    assert await holders(store, "p01") == ["ana", "cy"]


async def test_a_follow_back_while_the_fan_out_settled_keeps_the_post(
    store: DocumentStore,
) -> None:
    """bo unfollows during the fan-out's first read and follows again during its re-read:
    the follow's backfill wrote the entry the fan-out then removed, so it writes it again."""
    await follow(store, "bo", "person", "ana")
    steps = Steps()
    sources = Sources(store)
    lists = OvertakenLists(store, sources, steps, ("person", "ana"))
    fanout = fan_out(store, sources=sources, audiences=lists)
    event = await post(store, 1)

    async def bo_unfollows() -> None:
        await unfollow(store, "bo", "person", "ana")
        await fanout.unfollowed("bo", "person", "ana")

    async def bo_follows_again() -> None:
        await follow(store, "bo", "person", "ana")
        await fanout.followed("bo", "person", "ana")
        assert await holders(store, "p01") == ["ana", "bo"]  # the backfill's entry

    steps.pending = [bo_unfollows, bo_follows_again]
    await fanout.post_created(event)

    assert steps.done == 2
    assert await holders(store, "p01") == ["ana", "bo"]


# -- 2. two trims of one timeline ---------------------------------------------------------


async def test_a_trim_that_read_an_older_cut_off_does_not_move_the_horizon_back(
    store: DocumentStore,
) -> None:
    await follow(store, "bo", "person", "ana")
    events = [await post(store, n) for n in range(1, 14)]
    timelines = TimelineRepository(store)
    await timelines.add([timeline_entry("bo", e) for e in events[:10]])
    steps = Steps()
    slow = TimelineRepository(store)
    # overtaken once it read its cut-off (p06, the 5th newest of 10)
    slow._entries = Overtaken(store.collection("timelines"), "find", steps)  # type: ignore[assignment]

    async def newer_entries_and_a_trim() -> None:
        await timelines.add([timeline_entry("bo", e) for e in events[10:]])
        await timelines.trim("bo", 5)  # cut-off p09: drops p01..p08

    steps.pending = [newer_entries_and_a_trim]
    await slow.trim("bo", 5)

    assert steps.done == 1
    horizon = await timelines.horizon("bo")
    assert horizon == (events[8]["created_at"], "p09")
    page = await reader(store).home(Principal(user_id="bo"), limit=20, after=None)
    assert [p["_id"] for p in page.posts] == [f"p{n:02}" for n in range(13, 0, -1)]


async def test_a_horizon_only_moves_forward(store: DocumentStore) -> None:
    events = [await post(store, n) for n in range(1, 9)]
    timelines = TimelineRepository(store)
    await timelines.add([timeline_entry("bo", e) for e in events])
    await timelines.trim("bo", 3)  # cut-off p06
    await timelines.add([timeline_entry("bo", e) for e in events[:5]])  # a late backfill
    await timelines.trim("bo", 6)  # cut-off p03: older than the horizon
    assert await timelines.horizon("bo") == (events[5]["created_at"], "p06")
    # the same cut-off again (a redelivered backfill's trim) changes nothing either
    await timelines.trim("bo", 3)
    assert await timelines.horizon("bo") == (events[5]["created_at"], "p06")


async def test_entries_written_below_the_horizon_are_removed_so_full_pages_skip_nothing(
    store: DocumentStore,
) -> None:
    # A home page reads the horizon only when the timeline page runs short: an entry left
    # below it would end a full page and move the cursor past the trimmed posts.
    await follow(store, "bo", "person", "ana")
    events = [await post(store, n) for n in range(1, 13)]
    timelines = TimelineRepository(store)
    await timelines.add([timeline_entry("bo", e) for e in events[4:]])
    await timelines.trim("bo", 4)  # keeps p09..p12: p05..p08 now come from a query
    assert await timelines.horizon("bo") == (events[8]["created_at"], "p09")

    await timelines.add([timeline_entry("bo", e) for e in events[:2]])  # a late backfill
    # and a fan-out lagging behind the trim: bo's entry goes, the author's mark stays
    writer = EntryWriter(store, timelines)
    await writer.write([timeline_entry("bo", events[2])], timeline_entry("ana", events[2]))
    kept = await store.collection("timelines").find({"user_id": "bo"})
    assert sorted(e["post_id"] for e in kept) == ["p09", "p10", "p11", "p12"]
    assert await holders(store, "p03") == ["ana"]

    # A redelivered fan-out (its mark is there) looks below the horizon again too.
    await store.collection("timelines").insert_one(timeline_entry("bo", events[2]))
    await writer.write([timeline_entry("bo", events[2])], timeline_entry("ana", events[2]))
    assert await holders(store, "p03") == ["ana"]

    expected = [f"p{n:02}" for n in range(12, 0, -1)]
    for limit in (1, 2, 3, 5):
        seen: list[str] = []
        after = None
        while True:
            page = await reader(store).home(Principal(user_id="bo"), limit=limit, after=after)
            seen += [p["_id"] for p in page.posts]
            if page.next_key is None:
                break
            after = page.next_key
        assert seen == expected, limit


# -- 3. entries written with the visibility their event carried ---------------------------


async def visibilities(store: DocumentStore, post_id: str) -> dict[str, set[str | None]]:
    return {
        name: {
            e["group_visibility"] for e in await store.collection(name).find({"post_id": post_id})
        }
        for name in (TOPIC_INDEX, "timelines")
    }


async def test_a_post_of_a_group_made_public_before_its_fan_out_is_public_in_its_topics(
    store: DocumentStore,
) -> None:
    await group(store, "g", "private", ["ana", "bo"])
    fanout = fan_out(store)
    event = await post(store, 1, topics=["db"], group_id="g", visibility="private")
    # the group's change of visibility is handled first (its own key), then the post's
    await set_group_visibility(store, "g", "public")
    await fanout.group_visibility_changed("g", "public")
    await fanout.post_created(event)

    assert await visibilities(store, "p01") == {TOPIC_INDEX: {"public"}, "timelines": {"public"}}
    page = await reader(store).topic(Principal(user_id="zed"), "db", limit=10, after=None)
    assert [p["_id"] for p in page.posts] == ["p01"]


async def test_a_post_of_a_group_made_private_before_its_fan_out_is_private_everywhere(
    store: DocumentStore,
) -> None:
    await group(store, "g", "public", ["ana"])
    await follow(store, "zed", "person", "ana")
    fanout = fan_out(store)
    event = await post(store, 1, topics=["db"], group_id="g", visibility="public")
    await set_group_visibility(store, "g", "private")
    await fanout.group_visibility_changed("g", "private")
    await fanout.post_created(event)

    assert await visibilities(store, "p01") == {TOPIC_INDEX: {"private"}, "timelines": {"private"}}
    zed = Principal(user_id="zed")
    assert (await reader(store).topic(zed, "db", limit=10, after=None)).posts == []
    assert (await reader(store).home(zed, limit=10, after=None)).posts == []


async def test_an_edit_handled_around_a_change_of_visibility_leaves_the_current_one(
    store: DocumentStore,
) -> None:
    """The edit's handler reads the post, then the group is made private and handled."""
    await group(store, "g", "public", ["ana"])
    steps = Steps()
    index = TopicIndex(store)
    index._posts = Overtaken(store.collection("posts"), "find_one", steps)  # type: ignore[assignment]
    fanout = fan_out(store, index=index)
    event = await post(store, 1, topics=["db"], group_id="g", visibility="public")
    await fanout.post_created(event)

    async def made_private() -> None:
        await set_group_visibility(store, "g", "private")
        await fanout.group_visibility_changed("g", "private")

    steps.pending = [made_private]
    # the edit was made while the group was public: its event says so
    await fanout.post_updated(event)

    assert steps.done == 1
    assert await visibilities(store, "p01") == {TOPIC_INDEX: {"private"}, "timelines": {"private"}}

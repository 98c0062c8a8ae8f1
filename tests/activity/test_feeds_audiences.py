"""Audience lists (`feed_audiences`) and the entry writer: built once, kept exact by events,
idempotent under redelivery, never stored from a build that raced a change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.activity.feeds.audiences import AUDIENCES, AudienceLists
from services.activity.feeds.entries import EntryWriter
from services.activity.feeds.repository import Sources, TimelineRepository
from shared.backends import make_store
from shared.events.schemas.activity.social import FollowCreated
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.activity.test_feeds_support import T0, World
from tests.support import eventually


@pytest.fixture
async def store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(settings, "activity")
    try:
        yield store
    finally:
        await store.close()


async def follow(store: DocumentStore, follower: str, target: str) -> None:
    await store.collection("follows").insert_one(
        {
            "_id": f"{follower}:person:{target}",
            "follower_id": follower,
            "target_type": "person",
            "target_id": target,
            "created_at": T0,
        }
    )


async def stored(store: DocumentStore, key: str) -> dict[str, Any] | None:
    return await store.collection(AUDIENCES).find_one({"_id": key})


async def test_a_list_is_built_from_follows_once_then_read_by_id(store: DocumentStore) -> None:
    lists = AudienceLists(store, Sources(store), cap=100)
    for user in ("bo", "cy"):
        await follow(store, user, "ana")
    assert sorted(await lists.of("person", "ana")) == ["bo", "cy"]
    doc = await stored(store, "person:ana")
    assert doc is not None and doc["ids"] == ["bo", "cy"] and doc["n"] == 2
    # the list answers from now on, not the follows (their events keep it)
    await store.collection("follows").delete_one({"_id": "bo:person:ana"})
    assert sorted(await lists.of("person", "ana")) == ["bo", "cy"]


async def test_adds_and_removes_are_idempotent(store: DocumentStore) -> None:
    lists = AudienceLists(store, Sources(store), cap=100)
    await follow(store, "bo", "ana")
    await lists.of("person", "ana")
    for _ in range(2):  # a redelivery changes nothing
        await lists.added("person", "ana", "cy")
    assert sorted(await lists.of("person", "ana")) == ["bo", "cy"]
    for _ in range(2):
        await lists.removed("person", "ana", "bo")
    await lists.removed("person", "ana", "never-followed")
    doc = await stored(store, "person:ana")
    assert doc is not None and doc["ids"] == ["cy"] and doc["n"] == 1


async def test_changes_without_a_list_only_count(store: DocumentStore) -> None:
    lists = AudienceLists(store, Sources(store), cap=100)
    await lists.added("topic", "go", "bo")
    await lists.removed("topic", "go", "cy")
    doc = await stored(store, "topic:go")
    assert doc == {"_id": "topic:go", "v": 2}
    # the next read builds the list from the truth, over the stub
    await store.collection("follows").insert_one(
        {
            "_id": "bo:topic:go",
            "follower_id": "bo",
            "target_type": "topic",
            "target_id": "go",
            "created_at": T0,
        }
    )
    assert await lists.of("topic", "go") == ["bo"]
    doc = await stored(store, "topic:go")
    assert doc is not None and doc["ids"] == ["bo"]


class RacingSources(Sources):
    """Follows whose query is overtaken by a follow event (handled while it runs)."""

    def __init__(self, store: DocumentStore) -> None:
        super().__init__(store)
        self.store = store
        self.lists: AudienceLists | None = None

    async def followers(self, target_type: str, target_ids: Any) -> list[str]:
        snapshot = await super().followers(target_type, target_ids)
        assert self.lists is not None
        await follow(self.store, "late", "ana")
        await self.lists.added("person", "ana", "late")
        return snapshot


async def test_a_build_overtaken_by_a_change_stores_nothing(store: DocumentStore) -> None:
    racing = RacingSources(store)
    lists = racing.lists = AudienceLists(store, racing, cap=100)
    await follow(store, "bo", "ana")
    # this fan-out uses the truth it read; the list is not stored without "late"
    assert await lists.of("person", "ana") == ["bo"]
    doc = await stored(store, "person:ana")
    assert doc is not None and "ids" not in doc
    honest = AudienceLists(store, Sources(store), cap=100)
    assert sorted(await honest.of("person", "ana")) == ["bo", "late"]


async def test_a_list_never_outgrows_its_cap(store: DocumentStore) -> None:
    lists = AudienceLists(store, Sources(store), cap=2)
    for user in ("bo", "cy"):
        await follow(store, user, "ana")
    await lists.of("person", "ana")
    await follow(store, "dee", "ana")
    await lists.added("person", "ana", "dee")
    doc = await stored(store, "person:ana")
    assert doc is not None and "ids" not in doc  # back to a stub
    # above the cap the truth answers, and nothing is stored
    assert sorted(await lists.of("person", "ana")) == ["bo", "cy", "dee"]
    doc = await stored(store, "person:ana")
    assert doc is not None and "ids" not in doc


def entry(user: str, post_id: str = "p1") -> dict[str, Any]:
    return {"_id": f"{user}:{post_id}", "user_id": user, "post_id": post_id, "created_at": T0}


async def test_the_writer_completes_a_partial_delivery_and_skips_a_finished_one(
    store: DocumentStore,
) -> None:
    writer = EntryWriter(store, TimelineRepository(store), chunk=4, in_flight=2)
    entries = [entry(f"u{i:02d}") for i in range(10)]
    timelines = store.collection("timelines")
    # an earlier delivery died after writing a few, not in order
    await timelines.insert_many([entries[1], entries[6], entries[7]])
    await writer.write(entries, last=entry("ana"))
    found = await timelines.find({"post_id": "p1"}, projection=["_id"])
    assert sorted(d["_id"] for d in found) == sorted(e["_id"] for e in [*entries, entry("ana")])
    await writer.write(entries, last=entry("ana"))  # finished: a redelivery adds nothing
    assert await timelines.count({"post_id": "p1"}) == 11


async def test_the_writer_writes_the_last_entry_last(store: DocumentStore) -> None:
    timelines = TimelineRepository(store)
    writer = EntryWriter(store, timelines, chunk=3, in_flight=2)
    order: list[str] = []
    collection = store.collection("timelines")
    insert_many = collection.insert_many

    async def recording(docs: list[dict[str, Any]]) -> None:
        await insert_many(docs)
        order.extend(d["_id"] for d in docs)

    collection.insert_many = recording  # type: ignore[method-assign]
    try:
        await writer.write([entry(f"u{i}") for i in range(7)], last=entry("ana"))
    finally:
        collection.insert_many = insert_many  # type: ignore[method-assign]
    assert len(order) == 8 and order[-1] == "ana:p1"


# -- through the `activity.feeds` consumer ------------------------------------------------


async def listed(world: World, key: str) -> list[str] | None:
    doc = await world.store.collection(AUDIENCES).find_one({"_id": key})
    return None if doc is None or "ids" not in doc else sorted(doc["ids"])


async def test_follow_events_keep_a_built_list_and_later_posts_follow_it(world: World) -> None:
    await world.follow("bo", "person", "ana", publish=False)
    await world.post("ana", "first")
    await world.eventually_home("bo", ["first"])
    assert await listed(world, "person:ana") == ["bo"]
    await world.follow("cy", "person", "ana")
    await eventually(lambda: listed(world, "person:ana"), until=lambda ids: ids == ["bo", "cy"])
    await world.unfollow("bo", "person", "ana")
    await eventually(lambda: listed(world, "person:ana"), until=lambda ids: ids == ["cy"])
    third = await world.post("ana", "third")
    await world.eventually_home("cy", ["third", "first"])
    entries = await eventually(
        lambda: world.entries({"post_id": third}), until=lambda e: len(e) == 2
    )
    assert sorted(e["user_id"] for e in entries) == ["ana", "cy"]


async def test_a_redelivered_follow_lists_the_follower_once(world: World) -> None:
    await world.follow("bo", "person", "ana", publish=False)
    await world.post("ana", "first")
    await world.eventually_home("bo", ["first"])
    await world.follow("cy", "person", "ana")
    await eventually(lambda: listed(world, "person:ana"), until=lambda ids: ids == ["bo", "cy"])
    # the same follow.created again, then a later event on its key to wait for
    follow_id = "cy:person:ana"
    redelivered = FollowCreated(
        id=follow_id,
        follower_id="cy",
        target_type="person",
        target_id="ana",
        created_at=world.tick(),
    )
    await world.publish(redelivered)
    await world.unfollow("cy", "person", "ana")
    await eventually(lambda: listed(world, "person:ana"), until=lambda ids: ids == ["bo"])
    doc = await world.store.collection(AUDIENCES).find_one({"_id": "person:ana"})
    assert doc is not None and doc["n"] == 1


async def test_group_members_lists_and_private_posts_to_members_of_the_moment(
    world: World,
) -> None:
    await world.group("open", "public", ["ana"])
    await world.post("ana", "hello open", group="open")
    await world.eventually_home("ana", ["hello open"])
    assert await listed(world, "group:open") == ["ana"]
    await world.join("bo", "open")
    await eventually(lambda: listed(world, "group:open"), until=lambda ids: ids == ["ana", "bo"])
    await world.leave("bo", "open")
    await eventually(lambda: listed(world, "group:open"), until=lambda ids: ids == ["ana"])
    # a private group's post reaches the members of the moment, whatever its list says
    await world.group("secret", "private", ["ana", "mem", "gone"])
    await world.post("ana", "hush 1", group="secret")
    await world.eventually_home("gone", ["hush 1"])
    await world.store.collection("memberships").update_one(
        {"_id": "secret:gone"}, {"$set": {"state": "none", "role": None}}
    )
    hush = await world.post("ana", "hush 2", group="secret")
    await world.eventually_home("mem", ["hush 2", "hush 1"])
    entries = await world.entries({"post_id": hush})
    assert sorted(e["user_id"] for e in entries) == ["ana", "mem"]

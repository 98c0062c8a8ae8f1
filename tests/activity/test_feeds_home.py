"""Home timelines: fan-out on write, and what follow, unfollow, join, leave, edit and delete do."""

from __future__ import annotations

from typing import Any

from tests.activity.test_feeds_support import World
from tests.support import eventually


async def test_a_post_reaches_followers_of_its_author_and_topics_and_the_author(
    world: World,
) -> None:
    await world.follow("bo", "person", "ana", publish=False)
    await world.follow("cy", "topic", "k8s", publish=False)
    await world.post("ana", "hello #k8s", topics=["k8s"])
    for user in ("ana", "bo", "cy"):
        await world.eventually_home(user, ["hello #k8s"])
    assert await world.texts("dee") == []


async def test_a_private_group_post_reaches_only_members(world: World) -> None:
    await world.group("secret", "private", ["ana", "mem"])
    await world.group("open", "public", ["ana", "pub"])
    await world.follow("fan", "person", "ana", publish=False)
    await world.follow("topical", "topic", "x", publish=False)
    await world.post("ana", "hush", topics=["x"], group="secret")
    await world.post("ana", "loud", topics=["x"], group="open")
    await world.eventually_home("mem", ["hush"])
    await world.eventually_home("pub", ["loud"])
    await world.eventually_home("fan", ["loud"])
    await world.eventually_home("topical", ["loud"])
    await world.eventually_home("ana", ["loud", "hush"])
    # nothing of the private post was even written for non-members
    entries = await world.entries({"user_id": {"$in": ["fan", "topical", "pub"]}})
    assert {e["group_id"] for e in entries} == {"open"}


async def test_follow_backfills_and_unfollow_removes_unless_reachable_otherwise(
    world: World,
) -> None:
    await world.post("ana", "old one", topics=["go"])
    await world.post("ana", "old two")
    await world.follow("bo", "person", "ana")
    await world.eventually_home("bo", ["old two", "old one"])
    await world.follow("bo", "topic", "go")
    await world.post("ana", "new go", topics=["go"])
    await world.eventually_home("bo", ["new go", "old two", "old one"])
    await world.unfollow("bo", "person", "ana")
    # posts in a topic bo still follows stay; the others go
    await world.eventually_home("bo", ["new go", "old one"])
    await world.unfollow("bo", "topic", "go")
    await world.eventually_home("bo", [])


async def test_join_backfills_and_leaving_a_private_group_removes_its_posts_at_once(
    world: World,
) -> None:
    await world.group("secret", "private", ["ana"])
    await world.post("ana", "before join", group="secret")
    await world.join("bo", "secret")
    await world.eventually_home("bo", ["before join"])
    await world.post("ana", "while member", group="secret")
    await world.eventually_home("bo", ["while member", "before join"])
    await world.leave("bo", "secret")
    # the read path re-checks memberships: nothing shows even before the consumer runs
    assert await world.texts("bo") == []

    async def bo_entries() -> list[dict[str, object]]:
        return await world.entries({"user_id": "bo"})

    await eventually(bo_entries, until=lambda e: e == [])


async def test_leaving_a_public_group_keeps_what_follows_still_bring(world: World) -> None:
    await world.group("open", "public", ["ana"])
    await world.follow("bo", "person", "ana", publish=False)
    await world.join("bo", "open")
    await world.post("ana", "by ana", group="open")
    await world.post("cy", "by cy", group="open")
    await world.eventually_home("bo", ["by cy", "by ana"])
    await world.leave("bo", "open")
    await world.eventually_home("bo", ["by ana"])


async def test_edit_refreshes_entries_and_delete_removes_them(world: World) -> None:
    await world.follow("bo", "person", "ana", publish=False)
    post_id = await world.post("ana", "draft", topics=["a"])
    await world.eventually_home("bo", ["draft"])
    await world.edit(post_id, topics=["b", "c"], text="final")
    await world.eventually_home("bo", ["final"])

    async def topics() -> list[list[str]]:
        return [e["topics"] for e in await world.entries({"post_id": post_id})]

    await eventually(topics, until=lambda t: t == [["b", "c"], ["b", "c"]])
    await world.delete(post_id)
    await eventually(lambda: world.entries({"post_id": post_id}), until=lambda e: e == [])
    assert await world.texts("bo") == []


async def test_a_redelivered_post_created_adds_no_duplicate(world: World) -> None:
    await world.follow("bo", "person", "ana", publish=False)
    post_id = await world.post("ana", "once", publish=False)
    doc = await world.store.collection("posts").find_one({"_id": post_id})
    assert doc is not None
    event = await world.publish(world.created_event(doc))
    await world.eventually_home("bo", ["once"])
    await world.publish(event)  # the same event id again, as a redelivery would
    # a later event on the same key is handled after the redelivery
    await world.edit(post_id, topics=["after"], text="once")

    async def entries() -> list[dict[str, Any]]:
        return await world.entries({"post_id": post_id})

    found = await eventually(entries, until=lambda e: all(x["topics"] == ["after"] for x in e))
    assert sorted(e["user_id"] for e in found) == ["ana", "bo"]
    assert await world.texts("bo") == ["once"]


async def test_fan_out_of_one_post_to_5000_followers(world: World) -> None:
    followers = [f"f{i:04d}" for i in range(5000)]
    await world.store.collection("follows").insert_many(
        [
            {
                "_id": f"{f}:person:star",
                "follower_id": f,
                "target_type": "person",
                "target_id": "star",
                "created_at": world.tick(),
            }
            for f in followers
        ]
    )
    await world.store.collection("follow_stats").insert_one(
        {"_id": "person:star", "followers": 5000, "following": 0}
    )
    post_id = await world.post("star", "to everyone")
    timelines = world.store.collection("timelines")
    await eventually(lambda: timelines.count({"post_id": post_id}), until=lambda n: n == 5001)
    users = {e["user_id"] for e in await world.entries({"post_id": post_id})}
    assert users == {*followers, "star"}
    assert await world.texts("f4999") == ["to everyone"]


async def test_a_topic_follow_backfills_the_topics_live_posts_the_follower_may_read(
    world: World,
) -> None:
    # Through the topic index: never a private group's post, a deleted one, one edited out
    # of the topic, or the follower's own (the fan-out writes that one).
    await world.group("inner", "private", ["ana"])
    one = await world.post("ana", "go one", topics=["go"])
    secret = await world.post("ana", "go secret", topics=["go"], group="inner")
    moved = await world.post("ana", "go moved", topics=["go"])
    gone = await world.post("ana", "go gone", topics=["go"])
    mine = await world.post("bo", "go mine", topics=["go"])
    await world.edit(moved, topics=["rust"], text="moved away")
    await world.delete(gone)
    await eventually(
        lambda: world.texts("ana", "topics/go"),
        until=lambda texts: texts == ["go mine", "go secret", "go one"],
    )
    await world.follow("bo", "topic", "go")
    await world.eventually_home("bo", ["go mine", "go one"])
    entries = await world.entries({"user_id": "bo"})
    assert sorted(e["post_id"] for e in entries) == sorted([one, mine])
    assert not {secret, moved, gone} & {e["post_id"] for e in entries}

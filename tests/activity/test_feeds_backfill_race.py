"""A post's fan-out meets entries that follow backfills wrote first, and still reaches everyone.

The fan-out runs some time after the post is stored (the consumer lags, or replays after a
restart); follows handled meanwhile backfill the stored post into their followers'
timelines, the author's own timeline included when the author follows one of the post's
topics or joins its group. Every follower must end with the post all the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.activity.test_feeds_support import World
from tests.support import eventually


async def holders(world: World, post_id: str) -> list[str]:
    return sorted(e["user_id"] for e in await world.entries({"post_id": post_id}))


async def fanned_out(world: World, post_id: str, topics: list[str]) -> list[str]:
    """Who has the post once its fan-out is done: an edit on the same key comes after it."""
    await world.edit(post_id, topics=topics, text="lagging")

    async def entries() -> list[dict[str, Any]]:
        return await world.entries({"post_id": post_id})

    # the fan-out always writes the author's entry: none at all means it has not run yet
    done = await eventually(
        entries, until=lambda e: bool(e) and all(x["topics"] == topics for x in e)
    )
    return sorted(e["user_id"] for e in done)


async def entry_ids(world: World, ids: list[str]) -> list[str]:
    return sorted(e["_id"] for e in await world.entries({"_id": {"$in": ids}}))


async def test_a_lagging_fan_out_after_the_authors_own_backfill_reaches_every_follower(
    world: World,
) -> None:
    # wendy and cy followed ana long before she posted
    await world.follow("wendy", "person", "ana", publish=False)
    await world.follow("cy", "person", "ana", publish=False)
    earlier = await world.post("zed", "earlier", topics=["onboarding"])
    await eventually(lambda: holders(world, earlier), until=lambda u: u == ["zed"])
    post_id = await world.post("ana", "lagging", topics=["onboarding"], publish=False)
    # handled before the post's own event: ana's topic follow backfills the topic's posts
    # (hers among them), bo's follow of ana backfills hers
    await world.follow("ana", "topic", "onboarding")
    await world.follow("bo", "person", "ana")
    backfilled = sorted([f"ana:{earlier}", f"bo:{post_id}"])
    await eventually(lambda: entry_ids(world, backfilled), until=lambda ids: ids == backfilled)
    doc = await world.store.collection("posts").find_one({"_id": post_id})
    assert doc is not None
    await world.publish(world.created_event(doc))
    assert await fanned_out(world, post_id, ["onboarding", "edited"]) == [
        "ana",
        "bo",
        "cy",
        "wendy",
    ]
    assert await world.texts("wendy") == ["lagging"]


async def test_a_lagging_group_fan_out_after_the_authors_join_backfill_reaches_every_member(
    world: World,
) -> None:
    await world.group("open", "public", ["zed"])
    await world.follow("wendy", "person", "ana", publish=False)
    earlier = await world.post("zed", "earlier", group="open")
    await eventually(lambda: holders(world, earlier), until=lambda u: u == ["zed"])
    post_id = await world.post("ana", "lagging", group="open", publish=False)
    # ana joins her group (its backfill brings the group's posts, hers among them),
    # bo follows her
    await world.join("ana", "open")
    await world.follow("bo", "person", "ana")
    backfilled = sorted([f"ana:{earlier}", f"bo:{post_id}"])
    await eventually(lambda: entry_ids(world, backfilled), until=lambda ids: ids == backfilled)
    doc = await world.store.collection("posts").find_one({"_id": post_id})
    assert doc is not None
    await world.publish(world.created_event(doc))
    assert await fanned_out(world, post_id, ["edited"]) == ["ana", "bo", "wendy", "zed"]


async def test_posts_written_while_people_follow_reach_every_earlier_follower(
    world: World,
) -> None:
    authors = [f"p{i:02}" for i in range(4)]
    for author in authors:
        await world.follow("wendy", "person", author, publish=False)
    posts: list[str] = []

    async def write(author: str) -> None:
        topic = f"t{author}"
        for n in range(4):
            posts.append(await world.post(author, f"{author} #{n}", topics=[topic]))
            if n == 1:  # the author follows their own topic while posting
                await world.follow(author, "topic", topic)
            other = authors[(authors.index(author) + n + 1) % len(authors)]
            if other != author:
                await world.follow(other, "person", author)

    await asyncio.gather(*(write(a) for a in authors))
    # every post's fan-out is done once the edit behind it on the same key shows
    for post_id in posts:
        assert "wendy" in await fanned_out(world, post_id, ["edited"]), post_id
    assert len(await world.all_texts("wendy", limit=20)) == len(posts)

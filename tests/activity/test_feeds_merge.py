"""Big sources merged on read, and timelines trimmed to the cap, give the fan-out's feed."""

from __future__ import annotations

import pytest

from shared.events.envelope import new_event
from shared.settings import CanteenSettings
from tests.activity.test_feeds_support import World
from tests.support import eventually

THRESHOLD = 2
CAP = 50


@pytest.fixture
def settings(settings: CanteenSettings) -> CanteenSettings:
    return settings.model_copy(
        update={"activity_fanout_threshold": THRESHOLD, "activity_timeline_cap": CAP}
    )


async def test_merge_on_read_gives_the_page_fan_out_would_have(world: World) -> None:
    # star, #hot and the crowd group are above the threshold; small is not.
    await world.group("crowd", "private", ["me", "x1", "x2"])
    await world.group("walled", "private", ["star", "x3"])
    for user in ("me", "x1", "x2"):
        await world.follow(user, "person", "star", publish=False)
        await world.follow(user, "topic", "hot", publish=False)
    await world.follow("me", "person", "small", publish=False)
    expected = []
    for i in range(3):
        expected.append(f"star {i}")
        await world.post("star", f"star {i}")
        expected.append(f"small {i}")
        await world.post("small", f"small {i}")
        expected.append(f"hot {i}")
        await world.post("zed", f"hot {i}", topics=["hot"])
        expected.append(f"crowd {i}")
        await world.post("x1", f"crowd {i}", group="crowd")
        await world.post("star", f"walled {i}", group="walled")  # me is not a member
        await world.post("zed", f"unrelated {i}")
    await world.post("me", "mine")
    expected = ["mine", *reversed(expected)]
    # what fan-out materialized for me: only the small sources and my own post
    await world.eventually_home("me", expected)
    entries = await world.entries({"user_id": "me"})
    assert sorted(e["author_id"] for e in entries) == ["me", "small", "small", "small"]
    for limit in (1, 2, 5, 100):
        assert await world.all_texts("me", limit=limit) == expected
    # leaving the big private group takes its posts out of the merge at once
    await world.leave("me", "crowd")
    assert await world.all_texts("me") == [t for t in expected if not t.startswith("crowd")]


async def test_trimmed_timelines_page_past_the_cap_through_a_query(world: World) -> None:
    await world.follow("bo", "person", "ana", publish=False)
    texts = [f"post {i:03d}" for i in range(CAP * 2 + 20)]
    for text in texts:
        await world.post("ana", text, publish=False)
    posts = await world.store.collection("posts").find({}, sort=[("created_at", 1), ("_id", 1)])
    for doc in posts:
        # one key, so one partition: handled in order, and the last one is handled last
        event = new_event(world.created_event(doc)).model_copy(update={"subject": "bulk"})
        await world.publish(event)
    timelines = world.store.collection("timelines")
    await eventually(lambda: timelines.count({"post_id": posts[-1]["_id"]}), until=bool)

    async def state() -> dict[str, object] | None:
        return await world.store.collection("feed_state").find_one({"_id": "bo"})

    await eventually(state, until=lambda s: s is not None)
    # Trimming runs in the background (FanOut.trim_pending), after the horizon is set.
    await eventually(lambda: timelines.count({"user_id": "bo"}), until=lambda n: n < len(texts))
    assert await world.all_texts("bo", limit=7) == list(reversed(texts))

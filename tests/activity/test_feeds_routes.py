"""Feed routes: who sees what on every feed, pinned posts, ETag/304, bad input."""

from __future__ import annotations

from typing import Any

from shared.events.schemas.activity.discussion import AnswerAccepted
from tests.activity.test_feeds_support import PROBLEM, World
from tests.support import eventually

ORG, PUBLIC, PRIVATE = "org question", "public-group question", "private-group question"
EVERYONE = [PRIVATE, PUBLIC, ORG]  # newest first
VISIBLE = {
    "ana": EVERYONE,  # the author, a member of both groups
    "mem": EVERYONE,  # a member of both groups
    "non": [PUBLIC, ORG],  # a member of neither
    "admin-al": [PUBLIC, ORG],  # an org admin who is not a member: no private content
}


async def test_visibility_matrix_on_every_feed(world: World) -> None:
    await world.group("pub", "public", ["ana", "mem"])
    await world.group("priv", "private", ["ana", "mem"])
    for viewer in VISIBLE:
        if viewer != "ana":
            await world.follow(viewer, "person", "ana", publish=False)
            await world.follow(viewer, "topic", "matrix", publish=False)
    await world.follow("ana", "topic", "matrix", publish=False)
    await world.post("ana", ORG, kind="question", topics=["matrix"])
    await world.post("ana", PUBLIC, kind="question", topics=["matrix"], group="pub")
    await world.post("ana", PRIVATE, kind="question", topics=["matrix"], group="priv")
    for viewer, expected in VISIBLE.items():
        await world.eventually_home(viewer, expected)
        assert await world.all_texts(viewer, "home", limit=1) == expected
        assert await world.texts(viewer, "topics/matrix") == expected
        assert await world.texts(viewer, "topics/%23Matrix") == expected
        assert await world.texts(viewer, "people/ana") == expected
        others = [] if viewer == "ana" else expected
        assert await world.texts(viewer, "questions-for-me") == others
        assert await world.texts(viewer, "groups/pub") == [PUBLIC]
        private = await world.feed(viewer, "groups/priv")
        if PRIVATE in expected:
            assert private.json()["items"][0]["text"] == PRIVATE
        else:
            assert private.status_code == 404
            assert private.headers["content-type"].startswith(PROBLEM)
            assert "priv" in private.json()["detail"]  # the id asked for, nothing more


async def test_questions_for_me_are_open_questions_in_my_topics_by_others(world: World) -> None:
    await world.follow("bo", "topic", "db", publish=False)
    await world.post("ana", "open in db", kind="question", topics=["db"])
    await world.post("ana", "note in db", topics=["db"])
    await world.post("bo", "mine in db", kind="question", topics=["db"])
    await world.post("ana", "open elsewhere", kind="question", topics=["web"])
    answered = await world.post("ana", "answered in db", kind="question", topics=["db"])
    await world.store.collection("posts").update_one(
        {"_id": answered}, {"$set": {"state": "answered"}}
    )
    # Read through the topic index, so once the feeds consumer has indexed every post; the
    # answered one is still "open" in its entry (no event said otherwise) and is skipped
    # because the post itself is read again under the filter.
    everything = ["answered in db", "mine in db", "note in db", "open in db"]
    await eventually(lambda: world.texts("bo", "topics/db"), until=lambda t: t == everything)
    assert await world.texts("bo", "questions-for-me") == ["open in db"]
    assert await world.texts("cy", "questions-for-me") == []


async def test_questions_for_me_follow_acceptance_through_the_index(world: World) -> None:
    await world.follow("bo", "topic", "db", publish=False)
    question = await world.post("ana", "how to index?", kind="question", topics=["db"])
    await eventually(
        lambda: world.texts("bo", "questions-for-me"), until=lambda t: t == ["how to index?"]
    )
    entry_id = f"db:{question}"

    for accepted, state, shown in ((True, "answered", []), (False, "open", ["how to index?"])):
        await world.store.collection("posts").update_one(
            {"_id": question}, {"$set": {"state": state}}
        )
        await world.publish(
            AnswerAccepted(
                question_id=question,
                answer_id="a1",
                answer_author_id="cy",
                asker_id="ana",
                accepted=accepted,
                decided_by="ana",
                topics=["db"],
                at=world.tick(),
                audience="org",
            )
        )
        await eventually(
            lambda: world.store.collection("topic_index").find_one({"_id": entry_id}),
            until=lambda e, state=state: e is not None and e["state"] == state,
        )
        assert await world.texts("bo", "questions-for-me") == shown


async def test_group_feed_puts_pinned_posts_first_on_the_first_page(world: World) -> None:
    await world.group("team", "public", ["ana"])
    await world.post("ana", "pinned rules", group="team", pinned=True)
    for i in range(3):
        await world.post("ana", f"news {i}", group="team")
    first = await world.feed("bo", "groups/team", limit=2)
    body = first.json()
    assert [p["text"] for p in body["items"]] == ["pinned rules", "news 2", "news 1"]
    second = await world.feed("bo", "groups/team", limit=2, cursor=body["next_cursor"])
    assert [p["text"] for p in second.json()["items"]] == ["news 0"]
    assert second.json()["next_cursor"] is None


async def test_person_feed_pages_newest_first(world: World) -> None:
    for i in range(5):
        await world.post("ana", f"n{i}")
    await world.post("bo", "not ana")
    assert await world.all_texts("cy", "people/ana", limit=2) == [f"n{i}" for i in range(4, -1, -1)]


async def test_etag_gives_304_until_the_page_changes(world: World) -> None:
    await world.follow("bo", "person", "ana", publish=False)
    post_id = await world.post("ana", "first")
    await world.eventually_home("bo", ["first"])
    for path in ("home", "people/ana", "topics/none"):
        first = await world.feed("bo", path)
        etag = first.headers["etag"]
        assert etag.startswith('W/"')
        again = await world.client.get(
            f"/api/v1/feeds/{path}", headers={**await world.auth("bo"), "If-None-Match": etag}
        )
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
    etag = (await world.feed("bo", "home")).headers["etag"]
    # a new reaction count changes the page, and so its validator
    await world.store.collection("posts").update_one(
        {"_id": post_id}, {"$inc": {"counts.reactions": 1}}
    )
    changed = await world.client.get(
        "/api/v1/feeds/home", headers={**await world.auth("bo"), "If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json()["items"][0]["counts"]["reactions"] == 1
    assert changed.headers["etag"] != etag
    # a new post too
    etag = changed.headers["etag"]
    await world.post("ana", "second")
    await world.eventually_home("bo", ["second", "first"])
    newer = await world.client.get(
        "/api/v1/feeds/home", headers={**await world.auth("bo"), "If-None-Match": etag}
    )
    assert newer.status_code == 200


async def test_bad_input_is_a_problem(world: World) -> None:
    await world.post("ana", "something")
    await world.post("ana", "something else")
    cursor = (await world.feed("bo", "people/ana", limit=1)).json()["next_cursor"]
    assert cursor
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("home", {"limit": 101}, 422),
        ("home", {"limit": 0}, 422),
        ("people/ana", {"limit": "x"}, 422),
        ("home", {"cursor": tampered}, 400),
        ("people/ana", {"cursor": "not-a-cursor"}, 400),
        ("groups/nope", {}, 404),
        ("topics/%23%23%23", {}, 422),
        ("people/" + "x" * 300, {}, 422),
    ]
    for path, params, status in cases:
        response = await world.feed("bo", path, **params)
        assert response.status_code == status, (path, params, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    unauthenticated = await world.client.get("/api/v1/feeds/home")
    assert unauthenticated.status_code == 401
    assert await world.store.collection("timelines").count({"user_id": "bo"}) == 0

"""Who sees what: {author, member, non-member, org admin} x {org, public group, private group}
x {answers, comments, reactions, questions list}. Invisible answers 404, never leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_discussion_support import (
    PROBLEM,
    Town,
    activity_store,
)

VIEWERS = ("ana", "max", "nia", "admin1")  # author, member, non-member, org admin
SEES = {
    "org": set(VIEWERS),
    "public": set(VIEWERS),
    "private": {"ana", "max"},
}


@pytest.fixture
async def town(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> AsyncIterator[Town]:
    async with activity_store(settings) as store:
        yield Town(client, login, store)


async def test_read_routes_follow_the_question_audience(town: Town) -> None:
    await town.group("guild", "public", {"ana": "owner", "max": "member"})
    await town.group("cabal", "private", {"ana": "owner", "max": "member"})
    questions = {
        "org": await town.question("ana", "Org question?"),
        "public": await town.question("ana", "Public group question?", group="guild"),
        "private": await town.question("ana", "Private group question?", group="cabal"),
    }
    things: dict[str, dict[str, str]] = {}
    for where, q in questions.items():
        answer = await town.answer("max", q["id"], f"answer in {where}")
        comment = await town.comment("max", q["id"], f"comment in {where}")
        things[where] = {"question": q["id"], "answer": answer, "comment": comment}
        stored = await town.doc("answers", answer)
        assert stored["audience"] == q["audience"] and stored["group_id"] == q["group_id"]
        assert (await town.doc("comments", comment))["group_visibility"] == (
            None if where == "org" else where
        )

    for viewer in VIEWERS:
        headers = await town.auth(viewer)
        listed = await town.client.get("/api/v1/questions", headers=headers)
        assert listed.status_code == 200
        listed_ids = {q["id"] for q in listed.json()["items"]}
        for where, ids in things.items():
            visible = viewer in SEES[where]
            qid = ids["question"]
            assert (qid in listed_ids) is visible, (viewer, where)
            reads = {
                "answers": f"/api/v1/questions/{qid}/answers",
                "comments": f"/api/v1/posts/{qid}/comments",
                "post reactions": f"/api/v1/posts/{qid}/reactions",
                "answer reactions": f"/api/v1/answers/{ids['answer']}/reactions",
                "comment reactions": f"/api/v1/comments/{ids['comment']}/reactions",
            }
            for what, url in reads.items():
                r = await town.client.get(url, headers=headers)
                assert r.status_code == (200 if visible else 404), (viewer, where, what, r.text)
                if not visible:
                    assert r.headers["content-type"].startswith(PROBLEM)
                    assert "answer in" not in r.text and "comment in" not in r.text
            if visible:
                r = await town.client.get(reads["answers"], headers=headers)
                assert [a["text"] for a in r.json()] == [f"answer in {where}"]


async def test_writes_to_an_invisible_question_are_404_and_write_nothing(town: Town) -> None:
    await town.group("cabal", "private", {"ana": "owner", "max": "member"})
    q = await town.question("ana", "Secret?", group="cabal")
    answer = await town.answer("max", q["id"])
    comment = await town.comment("max", q["id"])
    for outsider in ("nia", "admin1"):
        headers = await town.auth(outsider)
        attempts = [
            town.client.post(
                f"/api/v1/questions/{q['id']}/answers", json={"text": "x"}, headers=headers
            ),
            town.client.post(
                f"/api/v1/posts/{q['id']}/comments", json={"text": "x"}, headers=headers
            ),
            town.client.put(f"/api/v1/answers/{answer}/vote", json={"value": 1}, headers=headers),
            town.client.patch(f"/api/v1/answers/{answer}", json={"text": "x"}, headers=headers),
            town.client.delete(f"/api/v1/answers/{answer}", headers=headers),
            town.client.delete(f"/api/v1/comments/{comment}", headers=headers),
            town.client.put(
                f"/api/v1/questions/{q['id']}/accepted-answer",
                json={"answer_id": answer},
                headers=headers,
            ),
            town.client.delete(f"/api/v1/questions/{q['id']}/accepted-answer", headers=headers),
            town.client.put(
                f"/api/v1/posts/{q['id']}/reactions", json={"kind": "like"}, headers=headers
            ),
            town.client.put(
                f"/api/v1/comments/{comment}/reactions", json={"kind": "like"}, headers=headers
            ),
        ]
        for attempt in attempts:
            r = await attempt
            assert r.status_code == 404, (outsider, r.request.url, r.text)
    assert await town.store.collection("answers").count() == 1
    assert await town.store.collection("comments").count() == 1
    assert await town.store.collection("votes").count() == 0
    assert await town.store.collection("reactions").count() == 0
    assert (await town.doc("posts", q["id"]))["state"] == "open"


async def test_group_admin_moderates_and_member_votes_in_private_group(town: Town) -> None:
    await town.group("cabal", "private", {"ana": "member", "max": "member", "gus": "admin"})
    q = await town.question("ana", "Who reviews?", group="cabal")
    answer = await town.answer("max", q["id"])
    r = await town.client.put(
        f"/api/v1/questions/{q['id']}/accepted-answer",
        json={"answer_id": answer},
        headers=await town.auth("gus"),
    )
    assert r.status_code == 200, r.text
    r = await town.client.put(
        f"/api/v1/answers/{answer}/vote", json={"value": 1}, headers=await town.auth("ana")
    )
    assert r.status_code == 200
    await town.settled("answers", answer, "votes.score", 1)
    r = await town.client.delete(f"/api/v1/answers/{answer}", headers=await town.auth("gus"))
    assert r.status_code == 204
    assert (await town.doc("posts", q["id"]))["state"] == "open"

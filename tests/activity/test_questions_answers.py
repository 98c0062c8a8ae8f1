"""Questions and answers: answering, editing, deleting, voting, accepting, listing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.activity.directory import Directory
from services.activity.questions.repository import QuestionRepository
from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_discussion_support import (
    PROBLEM,
    Town,
    activity_store,
)
from tests.activity.test_posts_support import person, publish
from tests.support import eventually


@pytest.fixture
async def town(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> AsyncIterator[Town]:
    async with activity_store(settings) as store:
        yield Town(client, login, store)


async def test_answer_is_stored_rendered_and_counted_on_the_question(town: Town) -> None:
    q = await town.question("ana", tags=["Kubernetes"])
    response = await town.client.post(
        f"/api/v1/questions/{q['id']}/answers",
        json={"text": "Use **sealed secrets**.\n\n<script>x</script>"},
        headers=await town.auth("bo"),
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["author_id"] == "bo" and answer["question_id"] == q["id"]
    assert "<strong>sealed secrets</strong>" in answer["body_html"]
    assert "<script>" not in answer["body_html"]
    assert answer["votes"] == {"up": 0, "down": 0, "score": 0}
    stored = await town.doc("answers", answer["id"])
    assert stored["audience"] == "org" and stored["topics"] == ["kubernetes"]
    await town.settled("posts", q["id"], "counts.answers", 1)


async def test_answers_are_ordered_accepted_then_score_then_oldest(town: Town) -> None:
    q = await town.question("ana")
    a1 = await town.answer("bo", q["id"], "first")
    a2 = await town.answer("cy", q["id"], "second")
    a3 = await town.answer("di", q["id"], "third")
    for voter in ("ana", "eve"):
        r = await town.client.put(
            f"/api/v1/answers/{a3}/vote", json={"value": 1}, headers=await town.auth(voter)
        )
        assert r.status_code == 200, r.text
    await town.settled("answers", a3, "votes.score", 2)
    headers = await town.auth("ana")
    listed = await town.client.get(f"/api/v1/questions/{q['id']}/answers", headers=headers)
    assert [a["id"] for a in listed.json()] == [a3, a1, a2]
    assert listed.json()[0]["my_vote"] == 1

    accepted = await town.client.put(
        f"/api/v1/questions/{q['id']}/accepted-answer", json={"answer_id": a2}, headers=headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "question_id": q["id"],
        "state": "answered",
        "accepted_answer_id": a2,
    }
    listed = await town.client.get(f"/api/v1/questions/{q['id']}/answers", headers=headers)
    assert [a["id"] for a in listed.json()] == [a2, a3, a1]
    assert [a["accepted"] for a in listed.json()] == [True, False, False]


async def test_only_the_asker_or_a_moderator_accepts(town: Town) -> None:
    q = await town.question("ana")
    a1 = await town.answer("bo", q["id"])
    a2 = await town.answer("cy", q["id"])
    url = f"/api/v1/questions/{q['id']}/accepted-answer"
    for outsider in ("bo", "cy"):
        r = await town.client.put(url, json={"answer_id": a1}, headers=await town.auth(outsider))
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
    assert (await town.doc("posts", q["id"]))["state"] == "open"

    r = await town.client.put(url, json={"answer_id": a1}, headers=await town.auth("ana"))
    assert r.json()["accepted_answer_id"] == a1
    # changeable, by a moderator too
    r = await town.client.put(url, json={"answer_id": a2}, headers=await town.auth("admin1"))
    assert r.status_code == 200 and r.json()["accepted_answer_id"] == a2
    stored = await town.doc("posts", q["id"])
    assert (stored["state"], stored["accepted_answer_id"]) == ("answered", a2)
    r = await town.client.delete(url, headers=await town.auth("ana"))
    assert r.json() == {"question_id": q["id"], "state": "open", "accepted_answer_id": None}
    stored = await town.doc("posts", q["id"])
    assert (stored["state"], stored["accepted_answer_id"]) == ("open", None)

    # an answer of another question is refused; an unknown one is 404
    other = await town.question("ana", "Another one?")
    foreign = await town.answer("bo", other["id"])
    r = await town.client.put(url, json={"answer_id": foreign}, headers=await town.auth("ana"))
    assert r.status_code == 422
    r = await town.client.put(url, json={"answer_id": "nope"}, headers=await town.auth("ana"))
    assert r.status_code == 404


async def test_deleting_the_accepted_answer_reopens_the_question(town: Town) -> None:
    q = await town.question("ana")
    a = await town.answer("bo", q["id"])
    await town.settled("posts", q["id"], "counts.answers", 1)
    await town.client.put(
        f"/api/v1/questions/{q['id']}/accepted-answer",
        json={"answer_id": a},
        headers=await town.auth("ana"),
    )
    assert (
        await town.client.delete(f"/api/v1/answers/{a}", headers=await town.auth("cy"))
    ).status_code == 403
    r = await town.client.delete(f"/api/v1/answers/{a}", headers=await town.auth("bo"))
    assert r.status_code == 204
    stored = await town.doc("posts", q["id"])
    assert (stored["state"], stored["accepted_answer_id"]) == ("open", None)
    await town.settled("posts", q["id"], "counts.answers", 0)
    listed = await town.client.get(
        f"/api/v1/questions/{q['id']}/answers", headers=await town.auth("ana")
    )
    assert listed.json() == []
    again = await town.client.delete(f"/api/v1/answers/{a}", headers=await town.auth("bo"))
    assert again.status_code == 404


async def test_edit_by_author_or_moderator(town: Town) -> None:
    q = await town.question("ana")
    a = await town.answer("bo", q["id"], "v1")
    r = await town.client.patch(
        f"/api/v1/answers/{a}", json={"text": "v2 *now*"}, headers=await town.auth("bo")
    )
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == 1 and r.json()["edited_at"] is not None
    assert "<em>now</em>" in r.json()["body_html"]
    r = await town.client.patch(
        f"/api/v1/answers/{a}", json={"text": "hijack"}, headers=await town.auth("cy")
    )
    assert r.status_code == 403
    r = await town.client.patch(
        f"/api/v1/answers/{a}", json={"text": "v3"}, headers=await town.auth("admin1")
    )
    assert r.status_code == 200 and r.json()["revision"] == 2
    assert (await town.doc("answers", a))["text"] == "v3"


async def test_votes_change_and_withdraw_with_exact_scores(town: Town) -> None:
    q = await town.question("ana")
    a = await town.answer("bo", q["id"])
    url = f"/api/v1/answers/{a}/vote"
    own = await town.client.put(url, json={"value": 1}, headers=await town.auth("bo"))
    assert own.status_code == 422

    async def vote(user: str, value: int) -> dict[str, int]:
        r = await town.client.put(url, json={"value": value}, headers=await town.auth(user))
        assert r.status_code == 200, r.text
        body: dict[str, int] = r.json()
        return body

    assert (await vote("cy", 1))["previous_value"] == 0
    assert (await vote("di", -1))["previous_value"] == 0
    assert (await vote("cy", -1))["previous_value"] == 1  # changed
    assert (await vote("cy", -1))["previous_value"] == -1  # same again: no change
    assert (await vote("di", 0))["previous_value"] == -1  # withdrawn
    await town.settled("answers", a, "votes", {"up": 0, "down": 1, "score": -1})
    assert (await town.doc("votes", f"{a}:cy"))["value"] == -1


async def test_concurrent_votes_keep_exact_scores(town: Town) -> None:
    q = await town.question("ana")
    a = await town.answer("bo", q["id"])
    voters = [f"user{i}" for i in range(20)]
    for v in voters:
        await town.auth(v)

    async def vote(user: str, value: int) -> int:
        r = await town.client.put(
            f"/api/v1/answers/{a}/vote", json={"value": value}, headers=await town.auth(user)
        )
        return r.status_code

    statuses = await asyncio.gather(*(vote(v, 1 if i % 4 else -1) for i, v in enumerate(voters)))
    assert set(statuses) == {200}
    # the same user racing with itself: one vote stands
    statuses = await asyncio.gather(*(vote("user1", -1) for _ in range(5)))
    assert set(statuses) <= {200, 409}
    expected = {"up": 14, "down": 6, "score": 8}
    doc = await town.settled("answers", a, "votes", expected)
    assert doc["votes"] == expected


async def test_questions_list_filters_and_pages(town: Town) -> None:
    k8s = await town.question("ana", "Kubernetes upgrade?", tags=["Kubernetes"])
    py = await town.question("bo", "Python typing?", tags=["python"])
    done = await town.question("cy", "Python packaging?", tags=["python"])
    await town.post("ana", "just a note #python")
    a = await town.answer("ana", done["id"])
    await town.client.put(
        f"/api/v1/questions/{done['id']}/accepted-answer",
        json={"answer_id": a},
        headers=await town.auth("cy"),
    )
    await town.settled("posts", done["id"], "counts.answers", 1)
    headers = await town.auth("di")

    async def ids(**params: object) -> list[str]:
        r = await town.client.get("/api/v1/questions", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert await ids() == [done["id"], py["id"], k8s["id"]]
    assert await ids(topic="#Python") == [done["id"], py["id"]]
    assert await ids(state="answered") == [done["id"]]
    assert await ids(state="open") == [py["id"], k8s["id"]]
    assert await ids(unanswered_in_followed="true") == []
    await town.follow_topic("di", "python")
    assert await ids(unanswered_in_followed="true") == [py["id"]]

    first = (
        await town.client.get("/api/v1/questions", params={"limit": 2}, headers=headers)
    ).json()
    assert [i["id"] for i in first["items"]] == [done["id"], py["id"]]
    rest = await town.client.get(
        "/api/v1/questions", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    )
    assert [i["id"] for i in rest.json()["items"]] == [k8s["id"]]
    assert rest.json()["next_cursor"] is None


async def test_answering_what_you_cannot_answer(town: Town) -> None:
    headers = await town.auth("bo")
    note = await town.post("ana", "not a question")
    gone = await town.question("ana")
    r = await town.client.delete(f"/api/v1/posts/{gone['id']}", headers=await town.auth("ana"))
    assert r.status_code == 204, r.text
    for qid in ("unknown", note["id"], gone["id"]):
        r = await town.client.post(
            f"/api/v1/questions/{qid}/answers", json={"text": "x"}, headers=headers
        )
        assert r.status_code == 404, (qid, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        r = await town.client.get(f"/api/v1/questions/{qid}/answers", headers=headers)
        assert r.status_code == 404
    assert await town.store.collection("answers").count() == 0


async def test_bad_input_is_a_problem_and_writes_nothing(town: Town) -> None:
    q = await town.question("ana")
    a = await town.answer("bo", q["id"])
    headers = await town.auth("cy")
    base = f"/api/v1/questions/{q['id']}"
    bad = [
        town.client.post(f"{base}/answers", json={}, headers=headers),
        town.client.post(f"{base}/answers", json={"text": ""}, headers=headers),
        town.client.post(f"{base}/answers", json={"text": "   \n "}, headers=headers),
        town.client.post(f"{base}/answers", json={"text": "x" * 20_001}, headers=headers),
        town.client.post(f"{base}/answers", json={"text": "x", "extra": 1}, headers=headers),
        town.client.post(f"{base}/answers", json={"text": 42}, headers=headers),
        town.client.put(f"/api/v1/answers/{a}/vote", json={"value": 2}, headers=headers),
        town.client.put(f"/api/v1/answers/{a}/vote", json={"value": "up"}, headers=headers),
        town.client.put(f"/api/v1/answers/{a}/vote", json={}, headers=headers),
        town.client.patch(f"/api/v1/answers/{a}", json={"text": ""}, headers=headers),
        town.client.put(f"{base}/accepted-answer", json={}, headers=headers),
        town.client.get("/api/v1/questions", params={"state": "closed"}, headers=headers),
    ]
    for request in bad:
        r = await request
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
    for path in ("/api/v1/answers/nope/vote",):
        r = await town.client.put(path, json={"value": 1}, headers=headers)
        assert r.status_code == 404
    r = await town.client.patch("/api/v1/answers/nope", json={"text": "x"}, headers=headers)
    assert r.status_code == 404
    assert await town.store.collection("answers").count() == 1
    assert await town.store.collection("votes").count() == 0
    r = await town.client.post(f"{base}/answers", json={"text": "x"})
    assert r.status_code == 401


async def test_idempotency_key_answers_once(town: Town) -> None:
    q = await town.question("ana")
    headers = {**await town.auth("bo"), "Idempotency-Key": "answer-1"}
    url = f"/api/v1/questions/{q['id']}/answers"
    first = await town.client.post(url, json={"text": "once"}, headers=headers)
    second = await town.client.post(url, json={"text": "once"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert await town.store.collection("answers").count({"question_id": q["id"]}) == 1


async def test_answers_show_their_authors_from_the_directory_read_once_per_list(
    town: Town, settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bo's person event has arrived: his name shows; Cy's has not: his user id does."""
    await publish(settings, person("bo", "bo", "Bo Berg"))
    await eventually(lambda: town.store.collection("people").find_one({"_id": "bo"}))
    bo_shown = {"id": "bo", "handle": "bo", "display_name": "Bo Berg", "avatar_url": None}
    cy_shown = {"id": "cy", "handle": None, "display_name": "cy", "avatar_url": None}
    q = await town.question("ana")
    url = f"/api/v1/questions/{q['id']}/answers"
    created = await town.client.post(url, json={"text": "mine"}, headers=await town.auth("bo"))
    assert created.json()["author"] == bo_shown
    a_cy = await town.answer("cy", q["id"])
    one = await town.client.get(f"/api/v1/answers/{a_cy}", headers=await town.auth("ana"))
    assert one.status_code == 200, one.text
    assert one.json()["author"] == cy_shown
    edited = await town.client.patch(
        f"/api/v1/answers/{a_cy}", json={"text": "v2"}, headers=await town.auth("cy")
    )
    assert edited.json()["author"] == cy_shown

    lookups: list[list[str]] = []
    people = Directory.people

    async def counted(self: Directory, user_ids: Any) -> dict[str, dict[str, Any]]:
        ids = list(user_ids)
        lookups.append(ids)
        return await people(self, ids)

    monkeypatch.setattr(Directory, "people", counted)
    listed = await town.client.get(url, headers=await town.auth("ana"))
    assert [a["author"] for a in listed.json()] == [bo_shown, cy_shown]
    assert [sorted(ids) for ids in lookups] == [["bo", "cy"]], "one lookup per list"


async def test_an_answer_deleted_while_being_accepted_does_not_stay_accepted(
    town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete lands between the accept's check of the answer and its write."""
    q = await town.question("ana")
    a = await town.answer("bo", q["id"])
    bo = await town.auth("bo")
    read = QuestionRepository.answer
    deleted: list[int] = []

    async def read_then_deleted(
        self: QuestionRepository, answer_id: str, *, with_deleted: bool = False
    ) -> Any:
        doc = await read(self, answer_id, with_deleted=with_deleted)
        if answer_id == a and not with_deleted and not deleted:
            deleted.append(0)  # once: the delete reads the answer too
            response = await town.client.delete(f"/api/v1/answers/{a}", headers=bo)
            deleted[0] = response.status_code
        return doc  # as read before the delete

    monkeypatch.setattr(QuestionRepository, "answer", read_then_deleted)
    r = await town.client.put(
        f"/api/v1/questions/{q['id']}/accepted-answer",
        json={"answer_id": a},
        headers=await town.auth("ana"),
    )
    assert deleted == [204]
    assert r.status_code == 404, r.text
    stored = await town.doc("posts", q["id"])
    assert (stored["state"], stored["accepted_answer_id"]) == ("open", None)

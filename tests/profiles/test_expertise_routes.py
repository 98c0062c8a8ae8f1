"""Expertise over HTTP with events arriving through the bus (the real consumer path):
a person's expertise, experts, who to ask (load spread), suggestions, hidden topics."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.events.schemas.activity.social import FollowCreated, GroupCreated
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.profiles.test_expertise_support import (
    NOW,
    PROBLEM,
    accepted,
    add_people,
    answer,
    post,
    profiles_store,
    publish,
    question,
)
from tests.support import eventually


def _u() -> str:
    """A suffix for topics and ids: on Kafka, other tests' events share the topic."""
    return uuid.uuid4().hex[:8]


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["person_id"] for i in items]


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    """The JSON of a 200; None while the consumer has not seen the thing yet (404)."""
    response = await client.get(url, headers=headers)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


async def test_experts_and_who_to_ask_spread_the_load(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    u = _u()
    ana, bob, cy, zed = (f"{n}{u}" for n in ("ana", "bob", "cy", "zed"))
    async with profiles_store(settings) as store:
        await add_people(store, {"_id": ana}, {"_id": bob}, {"_id": zed}, {"_id": cy})
    topics = [f"k8s{u}"]
    events = [
        question(f"q1{u}", cy, topics),
        answer(f"a1{u}", f"q1{u}", cy, ana, topics),
        accepted(f"a1{u}", f"q1{u}", cy, ana, topics),
        post(f"p1{u}", ana, "note", topics),
        question(f"q2{u}", cy, topics),
        answer(f"a2{u}", f"q2{u}", cy, bob, topics),
        accepted(f"a2{u}", f"q2{u}", cy, bob, topics),
        # Three open questions that @mention ana: her load.
        *(question(f"m{i}{u}", cy, ["misc"], mentions=[ana]) for i in range(3)),
        question(f"q9{u}", zed, topics),
    ]
    await publish(settings, *events)
    zed_h = await login(zed)
    experts = await eventually(
        lambda: _get(client, f"/api/v1/experts?topic=K8s{u}", zed_h),
        # answers and acceptances travel on different partitions: wait for both to count
        until=lambda es: (
            _ids(es) == [ana, bob]
            and all(e["evidence"][0]["kind"] == "accepted_answer" for e in es)
        ),
    )
    assert experts[0]["evidence"][0]["kind"] == "accepted_answer"
    assert experts[0]["evidence"][0]["link"] == f"/api/v1/questions/q1{u}/answers#a1{u}"

    async def who() -> Any:
        return await _get(client, f"/api/v1/experts/for-question/q9{u}", zed_h)

    # ana scores higher, but three open requests halve her rank: bob comes first.
    # The mention events travel on other partitions than the answers: wait for all of them.
    ranked = await eventually(
        who, until=lambda r: r is not None and sorted(x["open_requests"] for x in r) == [0, 3]
    )
    assert _ids(ranked) == [bob, ana]
    assert [r["open_requests"] for r in ranked] == [0, 3]
    assert ranked[1]["score"] > ranked[0]["score"]
    # The asker saw them: both now carry q9 as an open request (counted for other questions).
    async with profiles_store(settings) as store:
        loads = {d["_id"]: d["open"] for d in await store.collection("open_requests").find({})}
    assert f"q9{u}" in loads[bob] and f"q9{u}" in loads[ana]
    # bob answers q9: his request on it is done, and he is no longer suggested for it.
    await publish(settings, answer(f"a9{u}", f"q9{u}", zed, bob, topics))
    ranked = await eventually(who, until=lambda r: r is not None and bob not in _ids(r))
    assert _ids(ranked) == [ana]

    async def open_loads() -> dict[str, list[str]]:
        async with profiles_store(settings) as store:
            docs = await store.collection("open_requests").find({})
        return {d["_id"]: d["open"] for d in docs}

    # The answer's handler records the answerer first, then closes the request: poll.
    loads = await eventually(open_loads, until=lambda got: f"q9{u}" not in got[bob])
    assert f"q9{u}" in loads[ana]
    # The asker is never suggested for their own question.
    cy_h = await login(cy)
    await publish(settings, question(f"q10{u}", ana, topics))
    ranked = await eventually(
        lambda: _get(client, f"/api/v1/experts/for-question/q10{u}", cy_h), until=lambda r: bool(r)
    )
    assert ana not in _ids(ranked)
    unknown = await client.get("/api/v1/experts/for-question/nope", headers=cy_h)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM


async def test_private_questions_are_not_found_by_non_members(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    u = _u()
    group = {"audience": "group", "group_id": f"g{u}", "group_visibility": "private"}
    await publish(
        settings,
        GroupCreated(
            id=f"g{u}",
            slug=f"g{u}",
            name="G",
            visibility="private",
            join_policy="invite",
            owner_id="own",
            actor_id="own",
            created_at=NOW,
        ),
        question(f"pq{u}", "asker", ["x"], **group),
    )
    own = await login("own")
    await eventually(
        lambda: client.get(f"/api/v1/experts/for-question/pq{u}", headers=own),
        until=lambda r: r.status_code == 200,
    )
    outsider = await client.get(f"/api/v1/experts/for-question/pq{u}", headers=await login("out"))
    assert outsider.status_code == 404


async def test_suggestions_with_reasons(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    async with profiles_store(settings) as store:
        await add_people(
            store,
            {"_id": "me1", "department": "eng"},
            {"_id": "col1", "department": "eng"},
            {"_id": "col2", "department": "eng", "active": False},
            {"_id": "col3", "department": "eng"},
            {"_id": "rusty"},
            {"_id": "helper"},
        )
    u = _u()
    await publish(
        settings,
        FollowCreated(
            id=f"me1:topic:rust{u}",
            follower_id="me1",
            target_type="topic",
            target_id=f"rust{u}",
            created_at=NOW,
        ),
        FollowCreated(
            id="me1:person:col1",
            follower_id="me1",
            target_type="person",
            target_id="col1",
            created_at=NOW,
        ),
        post(f"r1{u}", "rusty", "article", [f"rust{u}"]),
        question(f"mq{u}", "me1", ["misc"]),
        answer(f"ma{u}", f"mq{u}", "me1", "helper", ["misc"]),
    )
    me1 = await login("me1")
    expected = {"rusty": "expert", "col3": "department", "helper": "answered_your_question"}

    def reasons(suggestions: list[dict[str, Any]] | None) -> dict[str, str]:
        return {s["person_id"]: s["reason"] for s in suggestions or []}

    # The follow of col1 (which removes col1) and the answer travel on different keys and
    # are applied in any order: wait for the whole expected state, not part of it.
    got = await eventually(
        lambda: _get(client, "/api/v1/people/me/suggestions", me1),
        until=lambda s: reasons(s) == expected,
    )
    assert reasons(got) == expected
    other = await client.get("/api/v1/people/col1/suggestions", headers=me1)
    assert other.status_code == 404


async def test_hidden_topics_over_http(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    async with profiles_store(settings) as store:
        await add_people(store, {"_id": "ana"})
    u = _u()
    ml, go = f"ml{u}", f"go{u}"
    await publish(
        settings, post(f"p1{u}", "ana", "article", [ml]), post(f"p2{u}", "ana", "note", [go])
    )
    ana, bob = await login("ana"), await login("bob")
    await eventually(
        lambda: _get(client, "/api/v1/people/ana/expertise", bob),
        until=lambda e: e is not None and {ml, go} <= {t["topic"] for t in e["topics"]},
    )
    hidden = await client.put(f"/api/v1/people/me/hidden-topics/ML{u}", headers=ana)
    assert hidden.status_code == 200 and hidden.json() == {"hidden_topics": [ml]}
    seen = await _get(client, "/api/v1/people/ana/expertise", bob)
    assert [t["topic"] for t in seen["topics"] if t["topic"] in (ml, go)] == [go]
    assert await _get(client, f"/api/v1/experts?topic={ml}", bob) == []
    own = await _get(client, "/api/v1/people/me/expertise", ana)
    assert {t["topic"]: t["hidden"] for t in own["topics"] if t["topic"] in (ml, go)} == {
        ml: True,
        go: False,
    }
    shown = await client.delete(f"/api/v1/people/me/hidden-topics/{ml}", headers=ana)
    assert shown.json() == {"hidden_topics": []}
    assert _ids(await _get(client, f"/api/v1/experts?topic={ml}", bob)) == ["ana"]
    # No profile yet: nothing to hide in.
    nobody = await client.put("/api/v1/people/me/hidden-topics/ml", headers=bob)
    assert nobody.status_code == 404


async def test_bad_input_is_a_problem(client: httpx.AsyncClient, login: Login) -> None:
    bob = await login("bob")
    for url in (
        "/api/v1/experts",
        "/api/v1/experts?topic=",
        "/api/v1/experts?topic=%23%23",
        "/api/v1/experts?topic=go&limit=51",
        "/api/v1/experts?topic=go&limit=0",
    ):
        response = await client.get(url, headers=bob)
        assert response.status_code == 422, url
        assert response.headers["content-type"] == PROBLEM
    assert (await client.get("/api/v1/experts?topic=go")).status_code == 401
    missing = await client.get("/api/v1/people/nobody/expertise", headers=bob)
    assert missing.status_code == 404
    bad = await client.put("/api/v1/people/me/hidden-topics/%3F", headers=bob)
    assert bad.status_code == 422

"""Indexing from events: posts, answers folded into questions, groups, people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from shared.events.schemas import profiles as pr
from shared.events.schemas.activity import discussion as d
from shared.events.schemas.activity import posts as p
from shared.events.schemas.activity import social as s
from tests.conftest import Login
from tests.search.conftest import Publish
from tests.support import eventually

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def post(pid: str, text: str, **kw: Any) -> p.PostCreated:
    fields: dict[str, Any] = {
        "kind": "note",
        "author_id": "ana",
        "audience": "org",
        "created_at": NOW,
    }
    return p.PostCreated(id=pid, text=text, **{**fields, **kw})


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    response = await client.get("/api/v1/search", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_published_post_becomes_searchable(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth = await login("bo")
    await publish(
        post(
            "p1",
            "Rotating kubernetes secrets safely",
            title="Secret rotation",
            topics=["kubernetes"],
        )
    )

    async def probe() -> dict[str, Any]:
        return await search(client, auth, q="kubernetes")

    page = await eventually(probe, until=lambda r: r["total"] >= 1)
    assert [h["id"] for h in page["items"]] == ["p1"]
    assert page["items"][0]["type"] == "note"
    assert {"value": "kubernetes", "count": 1} in page["facets"]["topic"]


async def test_answers_fold_into_their_question(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth = await login("bo")
    q = post("q1", "How do I page on error budgets?", kind="question", title="Alerting")
    answer = d.AnswerCreated(
        id="a1",
        question_id="q1",
        question_author_id="ana",
        author_id="cy",
        audience="org",
        text="Use multiwindow burn rate alerts",
        created_at=NOW,
    )
    accepted = d.AnswerAccepted(
        question_id="q1",
        answer_id="a1",
        answer_author_id="cy",
        asker_id="ana",
        accepted=True,
        decided_by="ana",
        audience="org",
        at=NOW,
    )
    await publish(answer, q, accepted)  # the answer before its question: still converges

    async def probe() -> dict[str, Any]:
        return await search(client, auth, q="burn rate")

    page = await eventually(
        probe, until=lambda r: r["total"] == 1 and r["items"][0]["state"] == "answered"
    )
    assert page["items"][0]["id"] == "q1"


async def test_people_are_indexed_and_deactivation_removes_them(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth = await login("bo")
    await publish(
        pr.PersonCreated(id="u-dee", handle="dee", display_name="Deirdre Okafor", title="SRE lead")
    )

    async def probe() -> dict[str, Any]:
        return await search(client, auth, q="Deirdre", type="person")

    await eventually(probe, until=lambda r: r["total"] == 1)
    await publish(pr.PersonDeactivated(id="u-dee"))
    await eventually(probe, until=lambda r: r["total"] == 0)


async def test_votes_and_reactions_count_as_engagement(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth = await login("bo")
    q = post("eq", "Which gopher library for tarsier parsing?", kind="question", title="Tarsier")
    answer = d.AnswerCreated(
        id="ea",
        question_id="eq",
        question_author_id="ana",
        author_id="cy",
        audience="org",
        text="Try the tarsier toolkit",
        created_at=NOW,
    )
    place = {"audience": "org", "at": NOW}
    votes = [
        d.VoteSet(
            answer_id="ea",
            answer_author_id="cy",
            question_id="eq",
            voter_id=v,
            value=1,
            previous_value=0,
            **place,
        )
        for v in ("v1", "v2", "v3")
    ]
    withdrawn = d.VoteSet(
        answer_id="ea",
        answer_author_id="cy",
        question_id="eq",
        voter_id="v3",
        value=0,
        previous_value=1,
        **place,
    )
    reaction = {
        "target_type": "post",
        "target_id": "eq",
        "target_author_id": "ana",
        "post_id": "eq",
        **place,
    }
    reactions = [
        d.ReactionSet(id=f"post:eq:{u}", user_id=u, kind="like", **reaction) for u in ("r1", "r2")
    ]
    removed = d.ReactionRemoved(id="post:eq:r2", user_id="r2", previous_kind="like", **reaction)
    await publish(q, answer, *votes, *reactions)
    await publish(withdrawn, removed)

    async def probe() -> dict[str, Any]:
        return await search(client, auth, q="tarsier")

    # 1 answer + 2 up-votes (one withdrawn) + 1 reaction (one removed)
    page = await eventually(
        probe, until=lambda r: r["total"] == 1 and r["items"][0]["engagement"] == 4
    )
    assert page["items"][0]["answer_count"] == 1


async def test_deleted_groups_and_posts_disappear_reactivated_people_return(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth = await login("owner")
    group = {
        "slug": "okapi",
        "name": "Okapi fans",
        "visibility": "public",
        "join_policy": "open",
        "owner_id": "owner",
        "actor_id": "owner",
    }
    await publish(
        s.GroupCreated(id="g-ok", created_at=NOW, **group),
        post("okp", "Okapi sighting", audience="group", group_id="g-ok", group_visibility="public"),
        post("okn", "Okapi notes to delete"),
        pr.PersonCreated(id="u-oki", handle="oki", display_name="Okapi Okonkwo"),
    )

    async def probe() -> list[str]:
        return sorted(h["id"] for h in (await search(client, auth, q="okapi"))["items"])

    await eventually(probe, until=lambda ids: ids == ["g-ok", "okn", "okp", "u-oki"])
    await publish(
        s.GroupDeleted(id="g-ok", deleted_at=NOW, **group),
        p.PostDeleted(
            id="okn", kind="note", author_id="ana", deleted_by="ana", audience="org", deleted_at=NOW
        ),
        pr.PersonDeactivated(id="u-oki"),
    )
    await eventually(probe, until=lambda ids: ids == [])
    await publish(pr.PersonReactivated(id="u-oki", handle="oki", display_name="Okapi Okonkwo"))
    await eventually(probe, until=lambda ids: ids == ["u-oki"])

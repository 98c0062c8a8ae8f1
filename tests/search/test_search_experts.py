"""Expert search and typeahead: ranked by expertise score, hidden topics and leavers left out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from shared.events.schemas import profiles as pr
from shared.events.schemas import profiles_expertise as pe
from tests.conftest import Login
from tests.search.conftest import Publish
from tests.support import eventually

AT = datetime(2026, 11, 3, tzinfo=UTC)


def expertise(person: str, topic: str, score: float, hidden: bool = False) -> pe.ExpertiseChanged:
    return pe.ExpertiseChanged(
        id=f"{person}:{topic}",
        person_id=person,
        topic_id=topic,
        score=score,
        score_ref=score,
        hidden=hidden,
        at=AT,
    )


def person(pid: str, name: str) -> pr.PersonCreated:
    return pr.PersonCreated(id=pid, handle=pid, display_name=name, title="Engineer")


async def experts(client: httpx.AsyncClient, auth: dict[str, str], topic: str) -> list[str]:
    r = await client.get("/api/v1/search/experts", params={"topic": topic}, headers=auth)
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["items"]]


async def test_experts_ranked_hidden_and_deactivated_left_out(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth = await login("viewer")
    await publish(
        person("kim", "Kim Park"),
        person("lee", "Lee Ortiz"),
        person("max", "Max Roy"),
        person("ned", "Ned Hale"),
        expertise("kim", "kafka", 3.0),
        expertise("lee", "kafka", 9.0),
        expertise("max", "kafka", 5.0),
        expertise("ned", "kafka", 7.0, hidden=True),
        expertise("kim", "go", 4.0),
    )

    async def probe() -> list[str]:
        return await experts(client, auth, "Kafka")

    assert await eventually(probe, until=lambda ids: len(ids) == 3) == ["lee", "max", "kim"]
    await publish(pr.PersonDeactivated(id="lee"), expertise("kim", "kafka", 8.0))
    assert await eventually(probe, until=lambda ids: ids[:1] == ["kim"]) == ["kim", "max"]
    await publish(expertise("max", "kafka", 6.0, hidden=True))
    assert await eventually(probe, until=lambda ids: len(ids) == 1) == ["kim"]


async def test_suggest_people_titles_groups_and_topics(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth = await login("viewer")
    await publish(person("ora", "Oralie Quist"))

    async def probe() -> dict[str, Any]:
        r = await client.get("/api/v1/suggest", params={"q": "oral"}, headers=auth)
        assert r.status_code == 200, r.text
        return r.json()

    body = await eventually(probe, until=lambda b: len(b["items"]) > 0)
    assert body["items"][0] == {"id": "ora", "text": "Oralie Quist", "type": "person"}
    bad = await client.get("/api/v1/suggest", params={"q": ""}, headers=auth)
    assert bad.status_code == 422

"""The query API: syntax, filters, facets, pagination, empty queries, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.events.schemas import profiles as pr
from shared.events.schemas.activity import posts as p
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.search.conftest import Publish
from tests.support import eventually

T0 = datetime(2026, 10, 1, tzinfo=UTC)
PROBLEM = "application/problem+json"


@pytest.fixture
async def corpus(client: httpx.AsyncClient, login: Login, publish: Publish) -> dict[str, str]:
    events: list[Any] = [
        pr.PersonCreated(
            id="u-ana", handle="ana.search", display_name="Ana Lima", department="Platform"
        ),
        pr.PersonCreated(id="u-bo", handle="bo.search", display_name="Bo Chen", department="Data"),
    ]
    for i in range(12):
        kind = ("note", "question", "article", "resource")[i % 4]
        author = "u-ana" if i % 2 == 0 else "u-bo"
        topic = "kubernetes" if i < 6 else "postgres"
        events.append(
            p.PostCreated(
                id=f"p{i:02d}",
                kind=kind,
                author_id=author,
                audience="org",
                title=f"Doc {i} {topic}",
                text=f"Operating {topic} clusters, part {i}. " + ("draft" if i == 3 else "final"),
                topics=[topic],
                created_at=T0 + timedelta(days=i),
                url="https://example.org" if kind == "resource" else None,
                resource_type="article" if kind == "resource" else None,
            )
        )
    await publish(*events)
    auth = await login("viewer")

    async def indexed() -> int:
        r = await client.get("/api/v1/search", params={"q": "operating"}, headers=auth)
        return int(r.json()["total"])

    async def authors() -> int:  # people known: `author:` resolves their handles
        total = 0
        for handle in ("ana.search", "bo.search"):
            q = f"operating author:{handle}"
            r = await client.get("/api/v1/search", params={"q": q}, headers=auth)
            total += int(r.json()["total"])
        return total

    # A generous first wait: on Kafka the consumer group may be rebalancing.
    await eventually(indexed, until=lambda n: n == 12, within=90)
    await eventually(authors, until=lambda n: n == 12)

    async def in_data() -> int:  # posts carry their author's department once it is known
        params = {"department": "Data", "type": "post", "limit": 50}
        r = await client.get("/api/v1/search", params=params, headers=auth)
        return int(r.json()["total"])

    # A post indexed before its author's profile arrived is re-rendered a little later.
    await eventually(in_data, until=lambda n: n == 6)
    return auth


async def get(client: httpx.AsyncClient, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/search", params=params, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


async def test_filters_and_field_syntax(client: httpx.AsyncClient, corpus: dict[str, str]) -> None:
    ids = lambda body: sorted(h["id"] for h in body["items"])  # noqa: E731
    assert ids(await get(client, corpus, q="operating type:question")) == ["p01", "p05", "p09"]
    assert ids(await get(client, corpus, q="operating author:ana.search topic:kubernetes")) == [
        "p00",
        "p02",
        "p04",
    ]
    assert ids(await get(client, corpus, q="operating", type="resource", topic="postgres")) == [
        "p07",
        "p11",
    ]
    assert "p03" not in ids(await get(client, corpus, q="operating -draft", limit=50))
    assert ids(await get(client, corpus, q='"part 1"')) == ["p01"]
    assert ids(await get(client, corpus, department="Data", type="post", limit=50)) == [
        f"p{i:02d}" for i in range(1, 12, 2)
    ]
    ranged = await get(
        client,
        corpus,
        q="operating",
        **{"from": "2026-10-03T00:00:00Z", "to": "2026-10-05T00:00:00Z"},
    )
    assert ids(ranged) == ["p02", "p03"]  # `to` is exclusive


async def test_facets_count_types_topics_and_authors(
    client: httpx.AsyncClient, corpus: dict[str, str]
) -> None:
    body = await get(client, corpus, q="operating")
    facets = {
        name: {f["value"]: f["count"] for f in values} for name, values in body["facets"].items()
    }
    assert facets["type"] == {"note": 3, "question": 3, "article": 3, "resource": 3}
    assert facets["topic"] == {"kubernetes": 6, "postgres": 6}
    assert facets["author"] == {"u-ana": 6, "u-bo": 6}


@pytest.mark.parametrize("sort", ["relevance", "recent"])
async def test_pages_cover_everything_once(
    client: httpx.AsyncClient, corpus: dict[str, str], sort: str
) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params = {
            "q": "operating",
            "limit": 5,
            "sort": sort,
            **({"cursor": cursor} if cursor else {}),
        }
        body = await get(client, corpus, **params)
        seen += [h["id"] for h in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"p{i:02d}" for i in range(12)]
    assert len(seen) == len(set(seen))


async def test_empty_query_lists_recent_items(
    client: httpx.AsyncClient, corpus: dict[str, str]
) -> None:
    # Filtered: on the shared engines other tests' posts are indexed too.
    body = await get(client, corpus, type="post", author="bo.search", limit=3)
    assert [h["id"] for h in body["items"]] == ["p11", "p09", "p07"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 1000},
        {"q": "autor:ana"},
        {"q": "type:poem"},
        {"type": "poem"},
        {"sort": "random"},
        {"limit": 0},
        {"limit": 1000},
        {"state": "closed"},
        {"from": "yesterday"},
        {"cursor": "not-a-cursor"},
    ],
)
async def test_bad_input_is_a_problem(
    client: httpx.AsyncClient, login: Login, params: dict[str, Any]
) -> None:
    r = await client.get("/api/v1/search", params=params, headers=await login("viewer"))
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_search_needs_a_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/search", params={"q": "x"})
    assert r.status_code == 401


async def test_typos_are_tolerated_or_corrected(
    client: httpx.AsyncClient, corpus: dict[str, str], settings: CanteenSettings
) -> None:
    body = await get(client, corpus, q="posgtres")
    if settings.backend == "external":  # OpenSearch: fuzzy matching finds them directly
        assert body["total"] == 6 and body["did_you_mean"] is None, body
    else:  # SQLite: no typo tolerance, so no hits and a correction from visible topics
        assert body["total"] == 0 and body["did_you_mean"] == "postgres", body
    assert (await get(client, corpus, q="postgres"))["did_you_mean"] is None

"""OpenSearchIndex's own plumbing, against a scripted HTTP transport: retries, error mapping,
bulk item retries and time-based batching (what the contract suite cannot provoke)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import orjson
import pytest
from search_support import posts_spec

from shared.search import (
    IndexedDoc,
    Query,
    SearchQueryError,
    SearchRequest,
    SearchUnavailable,
)
from shared.search.opensearch import OpenSearchIndex
from shared.search.spec_codec import spec_to_dict

SPEC = posts_spec("test-transport")
Handler = Callable[[httpx.Request], httpx.Response]


def adapter(handler: Handler, **options: object) -> OpenSearchIndex:
    http = httpx.AsyncClient(base_url="http://os", transport=httpx.MockTransport(handler))
    return OpenSearchIndex("http://os", http=http, initial_backoff=0.001, **options)  # type: ignore[arg-type]


def bulk_items(request: httpx.Request, statuses: list[int]) -> httpx.Response:
    lines = request.content.splitlines()
    assert len(lines) == 2 * len(statuses)
    items = [{"index": {"status": s, "error": {"type": "x", "reason": "y"}}} for s in statuses]
    return httpx.Response(200, json={"errors": True, "items": items})


def doc(n: int, version: int = 1) -> IndexedDoc:
    return IndexedDoc(f"d{n}", version, {"title": f"t{n}", "audience": "org"})


async def test_throttled_requests_are_retried_then_give_up() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(429 if len(calls) < 3 else 200, json={})

    index = adapter(handler, retry_attempts=5)
    await index.ping()
    assert len(calls) == 3

    failing = adapter(lambda r: httpx.Response(503, text="busy"), retry_attempts=2)
    with pytest.raises(SearchUnavailable):
        await failing.ping()


async def test_refused_bulk_items_are_resent_alone() -> None:
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(len(request.content.splitlines()) // 2)
        if len(sent) == 1:
            return bulk_items(request, [201, 429, 409, 400])
        return bulk_items(request, [201])

    result = await adapter(handler).upsert(SPEC.alias, [doc(n) for n in range(4)])

    assert sent == [4, 1]
    assert (result.applied, result.stale, [r.id for r in result.rejected]) == (2, 1, ["d3"])
    assert "x: y" in result.rejected[0].reason


async def test_bad_queries_become_query_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/_mapping"):
            meta = {"_meta": {"canteen_spec": spec_to_dict(SPEC)}}
            return httpx.Response(200, json={"test-transport-000001": {"mappings": meta}})
        error = {"type": "search_phase_execution_exception", "reason": "all shards failed"}
        return httpx.Response(400, json={"error": error, "status": 400})

    with pytest.raises(SearchQueryError, match="all shards failed"):
        await adapter(handler).search(
            SPEC.alias, SearchRequest(query=Query(terms=("x",)), audiences=["org"])
        )


async def test_concurrent_upserts_share_one_bulk_request_within_the_linger() -> None:
    requests: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request.content)
        ids = [orjson.loads(line)["index"]["_id"] for line in request.content.splitlines()[::2]]
        return bulk_items(request, [409 if i == "d3" else 201 for i in ids])

    index = adapter(handler, batch_linger=0.05)
    results = await asyncio.gather(*(index.upsert(SPEC.alias, [doc(n)]) for n in range(6)))

    assert len(requests) == 1
    assert [(r.applied, r.stale) for r in results] == [(1, 0)] * 3 + [(0, 1)] + [(1, 0)] * 2


async def test_batches_are_cut_by_document_count() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sizes.append(len(request.content.splitlines()) // 2)
        return bulk_items(request, [201] * sizes[-1])

    result = await adapter(handler, batch_docs=4).upsert(SPEC.alias, [doc(n) for n in range(10)])

    assert sizes == [4, 4, 2] and result.applied == 10

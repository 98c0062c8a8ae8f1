"""Throughput and latency of the SearchIndex adapters.

    python bench/bench_search_index.py [--opensearch-url URL] [--os-docs N] [--sqlite-docs N]
                                       [--index-docs N] [--queries N]

Always measures SqliteSearchIndex (temporary directory): loading `--sqlite-docs` posts,
then search and suggest latency. With --opensearch-url (default: the
CANTEEN_TEST_OPENSEARCH_URL variable) it also measures OpenSearchIndex: indexing
throughput of `upsert` against a raw opensearch-py `AsyncOpenSearch.bulk` loop on the
same documents in the same run (same template, external versions), then search and
suggest latency with `--os-docs` posts. Throw-away indexes; prints markdown; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from shared.search import (
    FieldSpec,
    IndexedDoc,
    IndexSpec,
    Query,
    Relevance,
    SearchIndex,
    SearchRequest,
)
from shared.search.opensearch import OpenSearchIndex
from shared.search.sqlite import SqliteSearchIndex
from shared.search.values import jsonable

BATCH = 1000
AUDIENCES = ["org", *(f"g{n}" for n in range(50))]
rng = random.Random(42)
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "da", "ri", "zu", "on", "el"]
VOCABULARY = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(8000)})
WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]  # Zipf-like word frequencies
TOPICS = [f"topic-{n}" for n in range(40)]
NOW = datetime.now(UTC)


def spec(alias: str) -> IndexSpec:
    return IndexSpec(
        alias=alias,
        fields=(
            FieldSpec("title", "typeahead", boost=3.0),
            FieldSpec("tags", "text", boost=2.0),
            FieldSpec("body", "text"),
            FieldSpec("author", "keyword"),
            FieldSpec("kind", "keyword"),
            FieldSpec("topics", "keyword"),
            FieldSpec("created_at", "date"),
            FieldSpec("likes", "number"),
        ),
        recency_field="created_at",
    )


def words(k: int) -> str:
    return " ".join(rng.choices(VOCABULARY, weights=WEIGHTS, k=k))


def post(n: int) -> IndexedDoc:
    body = {
        "title": words(rng.randint(3, 8)).capitalize(),
        "tags": words(3),
        "body": words(rng.randint(20, 120)),
        "author": f"user-{rng.randrange(2000)}",
        "kind": rng.choice(["note", "question", "resource", "article"]),
        "topics": rng.sample(TOPICS, rng.randint(0, 3)),
        "created_at": NOW - timedelta(minutes=rng.randrange(500_000)),
        "likes": rng.randrange(200),
        "audience": "org" if rng.random() < 0.7 else rng.choice(AUDIENCES[1:]),
    }
    return IndexedDoc(f"post-{n}", 1, body)


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) > 1 else samples[0]


async def timed(rounds: int, op: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        await op(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def load(index: SearchIndex, alias: str, docs: list[IndexedDoc]) -> float:
    start = time.perf_counter()
    for i in range(0, len(docs), BATCH):
        result = await index.upsert(alias, docs[i : i + BATCH])
        assert not result.rejected, result.rejected[:3]
    await index.refresh(alias)
    return len(docs) / (time.perf_counter() - start)


async def raw_bulk(url: str, physical: str, docs: list[IndexedDoc]) -> float:
    """The baseline: opensearch-py's own async client, bulk bodies built by hand."""
    from opensearchpy import AsyncOpenSearch

    client = AsyncOpenSearch(hosts=[url], timeout=60)
    try:
        start = time.perf_counter()
        for i in range(0, len(docs), BATCH):
            lines = []
            for doc in docs[i : i + BATCH]:
                meta = {
                    "_index": physical,
                    "_id": doc.id,
                    "version": doc.version,
                    "version_type": "external",
                }
                lines.append(orjson.dumps({"index": meta}))
                lines.append(
                    orjson.dumps(jsonable(doc.body) | {"doc_id": doc.id, "deleted": False})
                )
            response = await client.bulk(body=b"\n".join(lines) + b"\n")
            assert not response["errors"]
        await client.indices.refresh(index=physical)
        return len(docs) / (time.perf_counter() - start)
    finally:
        await client.close()


async def latencies(index: SearchIndex, alias: str, queries: int) -> dict[str, list[float]]:
    terms = VOCABULARY[:2000]
    requests = [
        SearchRequest(
            query=Query(terms=tuple(rng.sample(terms, rng.choice([1, 1, 2])))),
            audiences=["org", *rng.sample(AUDIENCES[1:], 5)],
            facets=["topics", "kind"],
            highlight=["title", "body"],
            relevance=Relevance(engagement_field="likes"),
        )
        for _ in range(queries)
    ]
    recent = [SearchRequest(query=r.query, audiences=r.audiences, sort="recent") for r in requests]
    prefixes = [rng.choice(terms)[:3] for _ in range(queries)]
    for r in requests[:20]:  # warm caches
        await index.search(alias, r)
    return {
        "search (relevance, 2 facets, highlights)": await timed(
            queries, lambda i: index.search(alias, requests[i])
        ),
        "search (recent)": await timed(queries, lambda i: index.search(alias, recent[i])),
        "suggest (3-letter prefix)": await timed(
            queries, lambda i: index.suggest(alias, prefixes[i], audiences=["org", "g1"])
        ),
    }


def table(rows: list[tuple[str, int, str, dict[str, list[float]]]]) -> str:
    out = [
        "| adapter | docs | load (docs/s) | operation | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for adapter, docs, rate, timings in rows:
        for name, samples in timings.items():
            out.append(
                f"| {adapter} | {docs} | {rate} | {name} | {p(samples, 50):.1f} | "
                f"{p(samples, 95):.1f} | {p(samples, 99):.1f} |"
            )
    return "\n".join(out)


async def bench_sqlite(docs: int, queries: int) -> tuple[str, int, str, dict[str, list[float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        index = SqliteSearchIndex(Path(tmp) / "search.db")
        s = spec("bench-posts")
        await index.ensure(s)
        rate = await load(index, s.alias, [post(n) for n in range(docs)])
        timings = await latencies(index, s.alias, queries)
        await index.close()
    return ("SqliteSearchIndex", docs, f"{rate:,.0f}", timings)


async def bench_opensearch(url: str, docs: int, index_docs: int, queries: int) -> str:
    index = OpenSearchIndex(url, timeout=60, replicas=0)
    run = uuid.uuid4().hex[:8]
    throughput = spec(f"bench-throughput-{run}")
    searched = spec(f"bench-posts-{run}")
    try:
        await index.ensure(throughput)
        baseline_physical = await index.create_version(throughput)
        sample = [post(n) for n in range(index_docs)]
        warm = [post(n) for n in range(BATCH)]
        await raw_bulk(url, baseline_physical, warm)  # JIT and connections warm, both sides
        await load(index, throughput.alias, warm)
        raw = await raw_bulk(url, baseline_physical, [IndexedDoc(d.id, 2, d.body) for d in sample])
        ours = await load(index, throughput.alias, [IndexedDoc(d.id, 2, d.body) for d in sample])
        await index.drop(throughput.alias)

        await index.ensure(searched)
        rate = await load(index, searched.alias, [post(n) for n in range(docs)])
        timings = await latencies(index, searched.alias, queries)
    finally:
        await index.drop(throughput.alias)
        await index.drop(searched.alias)
        await index.close()
    indexing = (
        "| indexing, same documents | docs | docs/s |\n|---|---:|---:|\n"
        f"| raw opensearch-py AsyncOpenSearch.bulk ({BATCH}/request) | {index_docs} "
        f"| {raw:,.0f} |\n"
        f"| OpenSearchIndex.upsert ({BATCH}/call) | {index_docs} | {ours:,.0f} |\n"
        f"| ratio (target >= 0.7) | | {ours / raw:.2f} |\n"
    )
    return indexing + "\n" + table([("OpenSearchIndex", docs, f"{rate:,.0f}", timings)])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opensearch-url", default=os.environ.get("CANTEEN_TEST_OPENSEARCH_URL"))
    parser.add_argument("--os-docs", type=int, default=200_000)
    parser.add_argument("--sqlite-docs", type=int, default=50_000)
    parser.add_argument("--index-docs", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    print("## SearchIndex\n")
    print(
        "Targets: OpenSearch 200k posts search p95 <= 50 ms; SQLite 50k posts search "
        "p95 <= 100 ms; suggest p95 <= 30 ms; upsert/raw bulk >= 0.7.\n"
    )
    if args.opensearch_url:
        print(
            await bench_opensearch(args.opensearch_url, args.os_docs, args.index_docs, args.queries)
        )
        print()
    print(table([await bench_sqlite(args.sqlite_docs, args.queries)]))


if __name__ == "__main__":
    asyncio.run(main())

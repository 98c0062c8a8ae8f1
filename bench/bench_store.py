"""Latency of the DocumentStore adapters: indexed find by key, insert, update with $inc.

    python bench/bench_store.py [--mongo-uri URI] [--docs N] [--rounds N]

Always measures SqliteDocumentStore (in a temporary directory). With --mongo-uri it also
measures MongoDocumentStore and raw pymongo.AsyncMongoClient against the same server in
the same run, each in a throw-away database, and reports the adapter's overhead.
Prints a markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from shared.store.mongo import MongoDocumentStore
from shared.store.port import Collection
from shared.store.sqlite import SqliteDocumentStore

Timings = dict[str, list[float]]


async def timed(rounds: int, op: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        await op(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def doc(i: int, run: str) -> dict[str, Any]:
    return {
        "_id": f"{run}-{i}",
        "email": f"user{i}-{run}@example.org",
        "n": 0,
        "created_at": datetime.now(UTC),
        "tags": ["a", "b"],
    }


async def bench_port(coll: Collection, docs: int, rounds: int) -> Timings:
    await coll.create_index([("email", 1)], unique=True)
    await coll.insert_many([doc(i, "seed") for i in range(docs)])
    return {
        "insert_one": await timed(rounds, lambda i: coll.insert_one(doc(i, "ins"))),
        "find_one by indexed key": await timed(
            rounds, lambda i: coll.find_one({"email": f"user{i % docs}-seed@example.org"})
        ),
        "update_one $inc": await timed(
            rounds, lambda i: coll.update_one({"_id": f"seed-{i % docs}"}, {"$inc": {"n": 1}})
        ),
    }


async def bench_raw(uri: str, database: str, docs: int, rounds: int) -> Timings:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    coll = client[database]["bench"]
    try:
        await coll.create_index([("email", 1)], unique=True)
        await coll.insert_many([doc(i, "seed") for i in range(docs)])
        return {
            "insert_one": await timed(rounds, lambda i: coll.insert_one(doc(i, "ins"))),
            "find_one by indexed key": await timed(
                rounds, lambda i: coll.find_one({"email": f"user{i % docs}-seed@example.org"})
            ),
            "update_one $inc": await timed(
                rounds, lambda i: coll.update_one({"_id": f"seed-{i % docs}"}, {"$inc": {"n": 1}})
            ),
        }
    finally:
        await client.drop_database(database)
        await client.close()


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mongo-uri")
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()

    rows: list[tuple[str, str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteDocumentStore(Path(tmp) / "bench.db")
        try:
            for op, samples in (
                await bench_port(store.collection("bench"), args.docs, args.rounds)
            ).items():
                rows.append(("SqliteDocumentStore", op, *stats(samples), ""))
        finally:
            await store.close()

    if args.mongo_uri:
        database = f"bench_{uuid.uuid4().hex[:12]}"
        raw = await bench_raw(args.mongo_uri, f"{database}_raw", args.docs, args.rounds)
        mongo = MongoDocumentStore(args.mongo_uri, database)
        try:
            port = await bench_port(mongo.collection("bench"), args.docs, args.rounds)
        finally:
            admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(args.mongo_uri)
            await admin.drop_database(database)
            await admin.close()
            await mongo.close()
        for op, samples in port.items():
            median, p95 = stats(samples)
            raw_median, raw_p95 = stats(raw[op])
            rows.append(("raw AsyncMongoClient", op, raw_median, raw_p95, ""))
            overhead = f"{(median - raw_median) / raw_median * 100:+.0f}%"
            rows.append(("MongoDocumentStore", op, median, p95, overhead))

    print(f"\n{args.docs} documents, {args.rounds} sequential operations each\n")
    print("| store | operation | median ms | p95 ms | overhead vs raw (median) |")
    print("|---|---|---:|---:|---:|")
    for name, op, median, p95, overhead in rows:
        print(f"| {name} | {op} | {median:.3f} | {p95:.3f} | {overhead} |")


if __name__ == "__main__":
    asyncio.run(main())

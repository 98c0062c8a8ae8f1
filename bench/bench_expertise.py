"""Expertise: `/experts?topic=` latency, and expertise updates from events per second.

    python bench/bench_expertise.py [--people N] [--topics N] [--requests N] [--events N]
        [--kafka BOOTSTRAP --mongo-uri URI]

1. `/experts?topic=` p50/p95/p99 on the embedded backend with 10,000 people and 500 topics
   (5 topics each: 50,000 expertise documents written straight into the store), through the
   profiles HTTP app in-process (httpx ASGI transport, lifespan running), one request at a
   time, random topics, limit 10.
2. Expertise updates per second in one process: N activity events (answers, votes,
   acceptances, articles over 1,000 people and 50 topics) published on a fresh bench topic,
   then consumed by the expertise handlers through the bus's real delivery loop (decode,
   validate, dispatch, commit), in batches of a partition's events (the subscription's
   `batch_handler`, up to its `max_batch` events a call; `--per-event` also measures the
   one-by-one path) on SQLite (embedded bus + store) and, with --kafka and --mongo-uri,
   on Kafka + FerretDB/MongoDB; then the raw engine's ceiling: the same events' document
   writes with the bare driver in bulk (bench/raw_engine.py), in batches of the
   subscription's size, an upper bound for any consumer on that engine.

Prints markdown tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.raw_engine import expertise_writes
from canteen.allinone import create_single
from services.profiles.context import ProfilesContext, ProfilesOptions
from services.profiles.expertise import install
from services.profiles.expertise.domain import growth
from services.profiles.expertise.repository import EXPERTISE_BATCH
from shared.backends import make_bus, make_store
from shared.events.envelope import Event, EventData, new_event
from shared.events.schemas.activity.discussion import AnswerAccepted, AnswerCreated, VoteSet
from shared.events.schemas.activity.posts import PostCreated
from shared.logging import configure_logging
from shared.settings import CanteenSettings

SECRET = "bench-dev-signing-secret-" + "x" * 16


def settings_for(tmp: Path, kafka: str | None = None, mongo: str | None = None) -> CanteenSettings:
    common: dict[str, Any] = {
        "env": "dev",
        "data_dir": tmp,
        "dev_signing_secret": SECRET,
        "cursor_secret": "bench-cursor-secret-" + "y" * 20,
    }
    if kafka and mongo:
        return CanteenSettings(
            backend="external",
            kafka_bootstrap_servers=kafka,
            mongodb_uri=mongo,
            mongodb_database_prefix=f"bench{uuid.uuid4().hex[:8]}",
            **common,
        )
    return CanteenSettings(backend="embedded", **common)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def seed_expertise(settings: CanteenSettings, people: int, topics: int) -> None:
    rng = random.Random(1)
    store = make_store(settings, "profiles")
    now = datetime.now(UTC)
    g = growth(now, settings.expertise_half_life_days)
    try:
        batch: list[dict[str, Any]] = []
        person_docs = [
            {
                "_id": f"p{i}",
                "handle": f"p{i}",
                "display_name": f"P {i}",
                "active": i % 50 != 0,
                "hidden_topics": [f"t{i % topics}"] if i % 97 == 0 else [],
            }
            for i in range(people)
        ]
        for start in range(0, people, 1000):
            await store.collection("people").insert_many(person_docs[start : start + 1000])
        for i in range(people):
            for t in rng.sample(range(topics), 5):
                ref = rng.paretovariate(1.5) * g
                evidence = [
                    {
                        "kind": "accepted_answer",
                        "ref_id": f"a{i}-{t}-{k}",
                        "ref": ref / (k + 2),
                        "weight": 11.0,
                        "link": f"/api/v1/questions/q/answers#a{i}-{t}-{k}",
                        "at": now - timedelta(days=k),
                        "group_id": None,
                        "group_visibility": None,
                    }
                    for k in range(3)
                ]
                batch.append(
                    {
                        "_id": f"p{i}:t{t}",
                        "person_id": f"p{i}",
                        "topic": f"t{t}",
                        "v": 1,
                        "score_ref": ref,
                        "contrib": {},
                        "evidence": evidence,
                        "hidden": False,
                        "published_ref": ref,
                        "_outbox": [],
                        "_outbox_pending": False,
                        "_outbox_v": 1,
                    }
                )
                if len(batch) == 1000:
                    await store.collection("expertise").insert_many(batch)
                    batch = []
        if batch:
            await store.collection("expertise").insert_many(batch)
    finally:
        await store.close()


async def bench_experts(people: int, topics: int, requests: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        app = create_single(settings, "profiles")
        async with LifespanManager(app, startup_timeout=60) as manager:
            await seed_expertise(settings, people, topics)
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                token = await http.post("/api/v1/dev/token", json={"sub": "bench"})
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                rng = random.Random(2)
                samples = []
                for _ in range(requests):
                    url = f"/api/v1/experts?topic=t{rng.randrange(topics)}&limit=10"
                    start = time.perf_counter()
                    response = await http.get(url, headers=headers)
                    samples.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, response.text
    return [
        "| backend | people | topics | expertise docs | requests | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| embedded (SQLite), HTTP in-process | {people} | {topics} | {people * 5} | {requests} "
        f"| {statistics.median(samples):.2f} | {pct(samples, 0.95):.2f} "
        f"| {pct(samples, 0.99):.2f} |",
    ]


def activity_events(n: int) -> list[EventData]:
    rng = random.Random(3)
    people = [f"u{i}" for i in range(1000)]
    topics = [f"bt{i}" for i in range(50)]
    now = datetime.now(UTC)
    out: list[EventData] = []
    answers: list[tuple[str, str, str, list[str]]] = []
    org: dict[str, Any] = {"audience": "org"}
    while len(out) < n:
        r = rng.random()
        ts = [rng.choice(topics)]
        if r < 0.5 or not answers:
            aid, qid, who = f"a{len(out)}", f"q{len(out)}", rng.choice(people)
            answers.append((aid, qid, who, ts))
            out.append(
                AnswerCreated(
                    id=aid,
                    question_id=qid,
                    question_author_id="asker",
                    author_id=who,
                    topics=ts,
                    text="x",
                    created_at=now,
                    **org,
                )
            )
        elif r < 0.8:
            aid, qid, who, ts = rng.choice(answers)
            out.append(
                VoteSet(
                    answer_id=aid,
                    answer_author_id=who,
                    question_id=qid,
                    voter_id=rng.choice(people),
                    value=1,
                    previous_value=0,
                    topics=ts,
                    at=now,
                    **org,
                )
            )
        elif r < 0.9:
            aid, qid, who, ts = rng.choice(answers)
            out.append(
                AnswerAccepted(
                    question_id=qid,
                    answer_id=aid,
                    answer_author_id=who,
                    asker_id="asker",
                    accepted=True,
                    decided_by="asker",
                    topics=ts,
                    at=now,
                    **org,
                )
            )
        else:
            out.append(
                PostCreated(
                    id=f"p{len(out)}",
                    kind="article",
                    author_id=rng.choice(people),
                    title="t",
                    text="x",
                    topics=ts,
                    created_at=now,
                    **org,
                )
            )
    return out


async def bench_updates(
    label: str, settings: CanteenSettings, n: int, *, batched: bool = True
) -> str:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    topic = f"bench-expertise-{run}"
    store = make_store(settings, "profiles")
    bus = make_bus(settings, f"bench-{run}", [topic])
    await bus.start()
    events: list[Event] = [new_event(p) for p in activity_events(n)]
    try:
        await bus.publish_batch([(topic, e) for e in events])
        ctx = ProfilesContext(store=store, options=ProfilesOptions())
        feature = install(ctx)
        for step in feature.setup:
            await step()
        subscription = feature.subscriptions[0]
        dispatcher, batch = subscription.handler, subscription.batch_handler
        done = asyncio.Event()
        seen = 0

        def count(k: int) -> None:
            nonlocal seen
            seen += k
            if seen >= n:
                done.set()

        async def handler(event: Event) -> None:
            await dispatcher(event)
            count(1)

        async def batch_handler(events: Sequence[Event]) -> None:
            assert batch is not None
            await batch(events)
            count(len(events))

        consumer = bus.consumer(
            group=f"bench-{run}",
            topics=[topic],
            handler=handler,
            batch_handler=batch_handler if batched else None,
            max_batch=subscription.max_batch,
        )
        start = time.perf_counter()
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(done.wait(), timeout=1800)
        elapsed = time.perf_counter() - start
        await consumer.stop()
        await task
    finally:
        await bus.close()
        await store.close()
    path = "batched" if batched else "per event"
    return f"| {label} | {path} | {n} | {elapsed:.1f} | {n / elapsed:.0f} |"


async def bench_raw(settings: CanteenSettings, n: int) -> str:
    """The same events' writes with the bare driver, on the service's indexes (raw_engine.py)."""
    store = make_store(settings, "profiles")
    try:
        for step in install(ProfilesContext(store=store, options=ProfilesOptions())).setup:
            await step()
    finally:
        await store.close()
    uri, database = settings.mongodb_uri.get_secret_value(), settings.mongodb_database("profiles")
    rate = await expertise_writes(uri, database, activity_events(n), batch=EXPERTISE_BATCH)
    label = "FerretDB alone: the same events' writes, bare driver, no service code"
    return f"| {label} | bulk | {n} | {n / rate:.1f} | {rate:.0f} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=500)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--kafka", metavar="BOOTSTRAP")
    parser.add_argument("--mongo-uri", metavar="URI")
    parser.add_argument("--skip-experts", action="store_true", help="only the update rates")
    parser.add_argument(
        "--per-event", action="store_true", help="also measure the per-event path (no batches)"
    )
    args = parser.parse_args()
    configure_logging(level="warning", json=False, service="bench")
    if not args.skip_experts:
        print("\n".join(await bench_experts(args.people, args.topics, args.requests)))
        print()
    rows = [
        "| bus + store | path | events | seconds | updates/s (one process) |",
        "|---|---|---:|---:|---:|",
    ]
    modes = [True, False] if args.per_event else [True]
    with tempfile.TemporaryDirectory() as tmp:
        for batched in modes:
            embedded = settings_for(Path(tmp) / f"emb{batched}")
            label = "SQLite bus + SQLite store"
            rows.append(await bench_updates(label, embedded, args.events, batched=batched))
            if args.kafka and args.mongo_uri:
                external = settings_for(Path(tmp) / f"ext{batched}", args.kafka, args.mongo_uri)
                rows.append(
                    await bench_updates("Kafka + FerretDB", external, args.events, batched=batched)
                )
        if args.kafka and args.mongo_uri:
            raw = settings_for(Path(tmp) / "raw", args.kafka, args.mongo_uri)
            rows.append(await bench_raw(raw, args.events))
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())

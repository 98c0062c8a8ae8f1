"""Feeds: HTTP home page vs a bare route, fan-out to 10,000 followers, page cost vs history.

    python bench/bench_feeds.py [--http] [--fanout] [--history] [--kafka B --mongodb URI]
                                [--followers 10000] [--big 1000000] [--duration 10]

(a) `--http`: a warm 20-item home page through the real activity app served by uvicorn on
    loopback (embedded backend), against a bare FastAPI app returning the same JSON bytes
    from memory on the same uvicorn settings, and the same bytes from a route inside the
    Canteen app (its middleware only); load from `wrk -t4 -c32` (needs `wrk` on PATH).
(b) `--fanout`: time from publishing a post.created to the last of `--followers` + 1
    timeline entries, on SQLite and (with --kafka/--mongodb) on Kafka + FerretDB/MongoDB:
    the first post (its author's audience list built from `follows`), then three more
    (the list read by `_id`); the trims that follow each are timed apart (`--cap`: about
    one entry in cap/8 triggers one; each is a full scan on FerretDB 1.24).
(c) `--history`: feed page latency with 10,000 vs `--big` posts in a SQLite store
    (seeded with insert_many in batches; the seeding time is printed).
Prints markdown tables; asserts nothing. With no section flag, runs all three.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import free_port
from services.activity.access import Access
from services.activity.directory import Directory
from services.activity.feeds.audiences import AudienceLists
from services.activity.feeds.entries import EntryWriter
from services.activity.feeds.fanout import FanOut
from services.activity.feeds.handlers import build_dispatcher
from services.activity.feeds.reader import FeedReader
from services.activity.feeds.repository import Sources, TimelineRepository
from services.activity.feeds.topic_index import TOPIC_INDEX, TopicIndex, topic_entries
from shared.backends import build_runtime, make_store
from shared.bus.metrics import BusMetrics
from shared.events.envelope import new_event
from shared.events.schemas.activity.posts import PostCreated
from shared.http import Principal
from shared.http.metrics import new_registry
from shared.ids import new_id
from shared.service import Subscription
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "bench-secret-" + "z" * 32


def settings_for(data_dir: Path, **extra: Any) -> CanteenSettings:
    return CanteenSettings(
        env="dev",
        backend="embedded",
        data_dir=data_dir,
        dev_signing_secret=SECRET,
        cursor_secret=SECRET,
        outbox_poll_seconds=0.05,
        **extra,
    )


def post_doc(i: int, *, author: str, topics: list[str], group: str | None = None) -> dict[str, Any]:
    kind = "question" if i % 10 == 0 else "note"
    return {
        "_id": new_id(),
        "kind": kind,
        "author_id": author,
        "audience": "group" if group else "org",
        "group_id": group,
        "group_visibility": "public" if group else None,
        "title": f"title {i}" if kind == "question" else None,
        "body_md": f"post number {i} " + "lorem ipsum " * 10,
        "body_html": f"<p>post number {i}</p>",
        "text": f"post number {i} " + "lorem ipsum " * 10,
        "url": None,
        "resource_type": None,
        "tags": topics,
        "topics": topics,
        "mentions": [],
        "created_at": T0 + timedelta(seconds=i),
        "edited_at": None,
        "revision": 0,
        "deleted": False,
        "pinned": False,
        "counts": {"comments": 0, "reactions": 0, "answers": 0},
        "reactions_by_kind": {},
        **({"state": "open", "accepted_answer_id": None} if kind == "question" else {}),
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def prepared_store(settings: CanteenSettings) -> DocumentStore:
    """The activity store with every feature's indexes, as the service creates them."""
    from services.activity.bootstrap import build

    parts = build(settings, BusMetrics(new_registry()))
    store = parts.runtime.store
    for step in parts.runtime.setup:
        await step()
    return store


# -- (a) HTTP ---------------------------------------------------------------------------


def serve(kind: str, data_dir: str, port: int, body: bytes) -> None:
    import uvicorn
    from fastapi import FastAPI, Response

    from canteen.allinone import create_single, freeze_startup_heap
    from shared.logging import configure_logging

    # Log as `canteen serve` does in production (JSON lines at info: one access line per
    # request), into a file rather than the terminal the bench prints its tables to.
    sys.stderr = open(Path(data_dir) / f"{kind}.log", "a", buffering=1 << 16)  # noqa: SIM115
    configure_logging(level="info", json=True, service=kind)

    app = FastAPI() if kind == "bare" else create_single(settings_for(Path(data_dir)), "activity")

    @app.get("/bench/bare")
    async def bare() -> Response:
        return Response(body, media_type="application/json")

    # As `canteen serve` runs it: start-up heap frozen, uvloop and httptools when installed
    # (uvicorn's "auto").
    freeze_startup_heap()
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def wrk(url: str, token: str, duration: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from `wrk -t4 -c32 --latency`."""
    out = subprocess.run(
        [
            "wrk",
            "-t4",
            "-c32",
            f"-d{duration}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, ms("50"), ms("99")


async def wait_http(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def bench_http(duration: int) -> None:
    if shutil.which("wrk") is None:
        print("(a) skipped: `wrk` not on PATH (apt-get install wrk)\n")
        return
    data_dir = Path(tempfile.mkdtemp(prefix="bench-feeds-http-"))
    settings = settings_for(data_dir)
    store = await prepared_store(settings)
    posts = [post_doc(i, author=f"a{i % 50}", topics=[f"t{i % 7}"]) for i in range(400)]
    await store.collection("posts").insert_many(posts)
    await store.collection("follows").insert_many(
        [
            {
                "_id": f"reader:person:a{j}",
                "follower_id": "reader",
                "target_type": "person",
                "target_id": f"a{j}",
                "created_at": T0,
            }
            for j in range(50)
        ]
    )
    await store.close()
    ctx = multiprocessing.get_context("spawn")
    app_port, bare_port = free_port(), free_port()
    body_holder: dict[str, bytes] = {}
    # Fan the posts out through the real consumer: publish their events, wait for entries.
    app_proc = ctx.Process(target=serve, args=("app", str(data_dir), app_port, b"{}"), daemon=True)
    app_proc.start()
    base = f"http://127.0.0.1:{app_port}"
    try:
        await wait_http(base + "/healthz")
        from shared.backends import make_bus
        from shared.events.schemas.activity import TOPIC

        bus = make_bus(settings, "bench", topics=[TOPIC])
        await bus.start()
        await bus.publish_batch([(TOPIC, new_event(created(p))) for p in posts])
        await bus.close()
        async with httpx.AsyncClient(base_url=base) as http:
            token = (await http.post("/api/v1/dev/token", json={"sub": "reader"})).json()[
                "access_token"
            ]
            auth = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + 120
            while True:
                page = await http.get("/api/v1/feeds/home", params={"limit": 20}, headers=auth)
                if len(page.json()["items"]) == 20 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            body_holder["body"] = page.content
        app_proc.terminate()
        app_proc.join()
        # Restart the app with the page's bytes for its in-app bare route.
        app_proc = ctx.Process(
            target=serve, args=("app", str(data_dir), app_port, body_holder["body"]), daemon=True
        )
        bare_proc = ctx.Process(
            target=serve, args=("bare", str(data_dir), bare_port, body_holder["body"]), daemon=True
        )
        app_proc.start()
        bare_proc.start()
        await wait_http(base + "/healthz")
        await wait_http(f"http://127.0.0.1:{bare_port}/bench/bare")
        home = f"{base}/api/v1/feeds/home?limit=20"
        for url in (home, f"http://127.0.0.1:{bare_port}/bench/bare"):
            wrk(url, token, 2)  # warm-up
        rows = [
            (
                "bare FastAPI app, same bytes from memory",
                f"http://127.0.0.1:{bare_port}/bench/bare",
            ),
            ("route inside the Canteen app, same bytes (middleware only)", f"{base}/bench/bare"),
            ("GET /api/v1/feeds/home?limit=20 (auth, store, merge, ETag)", home),
        ]
        results = [(name, *wrk(url, token, duration)) for name, url in rows]
        bare_rps = results[0][1]
        print(f"### (a) Home page over HTTP: uvicorn (1 process), wrk -t4 -c32 -d{duration}s\n")
        print(f"Page: {len(body_holder['body'])} bytes, 20 items.\n")
        print("| endpoint | req/s | vs bare | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|")
        for name, rps, p50, p99 in results:
            print(f"| {name} | {rps:,.0f} | {rps / bare_rps:.2f} | {p50:.2f} | {p99:.2f} |")
        print()
        bare_proc.terminate()
        bare_proc.join()
    finally:
        app_proc.terminate()
        app_proc.join()
        shutil.rmtree(data_dir, ignore_errors=True)


def created(doc: dict[str, Any]) -> PostCreated:
    return PostCreated(
        id=doc["_id"],
        kind=doc["kind"],
        author_id=doc["author_id"],
        audience=doc["audience"],
        group_id=doc["group_id"],
        group_visibility=doc["group_visibility"],
        title=doc["title"],
        text=doc["text"],
        topics=doc["topics"],
        created_at=doc["created_at"],
    )


# -- (b) fan-out --------------------------------------------------------------------------


async def bench_fanout(
    settings: CanteenSettings, label: str, followers: int, *, cap: int, posts: int
) -> list[str]:
    """Publish post.created events on a bench topic; time each to its last timeline entry.

    The feature's own consumer code on a bench-only topic and group (other processes on
    the same broker cannot take its partitions). The end is when the writer returns after
    the author's entry, which it writes last, observed by wrapping it: polling a count
    would itself load the store. Trimming, which follows, is timed apart ("then trims").

    The star's followers are written to `follows` directly, so the first post builds the
    star's audience list from that query (cold); the posts after it read the list (warm),
    as every post of a source does once the list exists.
    """
    from shared.backends import make_bus

    store = make_store(settings, "activity")
    access = Access(store)
    timelines, sources = TimelineRepository(store), Sources(store)
    writer = EntryWriter(store, timelines)
    written = asyncio.Event()
    handled = asyncio.Event()
    write = writer.write

    async def observed_write(entries: Any, last: Any) -> None:
        await write(entries, last)
        written.set()

    writer.write = observed_write  # type: ignore[method-assign]
    fanout = FanOut(
        timelines,
        sources,
        access,
        threshold=followers * 2,
        cap=cap,
        audiences=AudienceLists(store, sources, cap=followers * 4),
        writer=writer,
    )
    post_created = fanout.post_created

    async def observed_post_created(post: Any) -> int:
        n = await post_created(post)
        handled.set()
        return n

    fanout.post_created = observed_post_created  # type: ignore[method-assign]
    topic = f"bench.feeds.{uuid.uuid4().hex[:8]}"
    runtime = build_runtime(
        settings,
        "activity",
        BusMetrics(new_registry()),
        store=store,
        topics=[topic],
        setup=[access.prepare, timelines.prepare, sources.prepare],
        subscriptions=[
            Subscription(
                group=f"bench-feeds-{uuid.uuid4().hex[:8]}",
                topics=[topic],
                handler=build_dispatcher(fanout),
            )
        ],
    )
    await runtime.start()
    publisher = make_bus(settings, "bench-publisher", topics=[topic])
    await publisher.start()
    rows = []
    try:
        await store.collection("follows").insert_many(
            [
                {
                    "_id": f"f{i}:person:star",
                    "follower_id": f"f{i}",
                    "target_type": "person",
                    "target_id": "star",
                    "created_at": T0,
                }
                for i in range(followers)
            ]
        )
        await store.collection("follow_stats").insert_one(
            {"_id": "person:star", "followers": followers, "following": 0}
        )
        for i in range(posts):
            run = "cold (list built)" if i == 0 else "warm"
            doc = post_doc(i + 1, author="star", topics=["x"])
            await store.collection("posts").insert_one(doc)
            written.clear()
            handled.clear()
            start = time.perf_counter()
            await publisher.publish(new_event(created(doc)), topic=topic)
            await asyncio.wait_for(written.wait(), timeout=600)
            elapsed = time.perf_counter() - start
            await asyncio.wait_for(handled.wait(), timeout=1800)
            trims = time.perf_counter() - start - elapsed
            rows.append(
                f"| {label}, post {i + 1} {run} | {followers:,} | {elapsed:.2f} | "
                f"{followers / elapsed:,.0f} | {trims:.2f} |"
            )
            print(rows[-1], file=sys.stderr, flush=True)
    finally:
        await publisher.close()
        await runtime.stop()
        await drop_external(settings)
    return rows


async def drop_external(settings: CanteenSettings) -> None:
    """Leave no bench database behind on the shared FerretDB/MongoDB."""
    if settings.backend != "external":
        return
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        await client.drop_database(settings.mongodb_database("activity"))
    finally:
        await client.close()


# -- (c) page cost vs history ----------------------------------------------------------------


# Authors and timeline owners in the history seed: few enough that the measured author and
# reader have 50 items each at 10,000 posts (two full pages), so both sizes compare
# pages of 20 (at 1,000 they had 10 items at 10,000 and 20 at 1,000,000).
HISTORY_PEOPLE = 200


async def seed_history(store: DocumentStore, n: int, batch: int = 20_000) -> float:
    """n posts (200 authors, 100 topics, 100 public groups) and 200 readers' timelines."""
    rng = random.Random(7)
    posts = store.collection("posts")
    timelines = store.collection("timelines")
    topic_index = store.collection(TOPIC_INDEX)
    start = time.perf_counter()
    for lo in range(0, n, batch):
        docs = []
        entries = []
        for i in range(lo, min(n, lo + batch)):
            group = f"g{i % 100}" if i % 5 == 0 else None
            doc = post_doc(
                i,
                author=f"a{i % HISTORY_PEOPLE}",
                topics=[f"t{rng.randrange(100)}", f"t{rng.randrange(100)}"],
                group=group,
            )
            docs.append(doc)
            # Everyone's timelines, in aggregate: 1 entry per post for 1 of 200 readers.
            reader = f"u{i % HISTORY_PEOPLE}"
            entries.append(
                {
                    "_id": f"{reader}:{doc['_id']}",
                    "user_id": reader,
                    "post_id": doc["_id"],
                    "created_at": doc["created_at"],
                    "author_id": doc["author_id"],
                    "audience": doc["audience"],
                    "group_id": group,
                    "group_visibility": doc["group_visibility"],
                    "topics": doc["topics"],
                    "kind": doc["kind"],
                }
            )
        await posts.insert_many(docs)
        await timelines.insert_many(entries)
        # The topic index, as the feeds consumer would have written it.
        await topic_index.insert_many([e for doc in docs for e in topic_entries(doc)])
    await store.collection("follows").insert_many(
        [
            {
                "_id": f"{user}:topic:{topic}",
                "follower_id": user,
                "target_type": "topic",
                "target_id": topic,
                "created_at": T0,
            }
            # u2 follows a topic nobody posts in: questions-for-me finds nothing there.
            for user, topic in (("u1", "t1"), ("u2", "quiet"))
        ]
    )
    await store.collection("groups").insert_one(
        {
            "_id": "g10",
            "slug": "g10",
            "name": "G10",
            "visibility": "public",
            "deleted": False,
            "member_count": 1,
        }
    )
    return time.perf_counter() - start


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    samples = []
    for _ in range(5):
        await call()
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def feed_calls(store: DocumentStore) -> dict[str, Callable[[], Awaitable[Any]]]:
    reader = FeedReader(
        TimelineRepository(store),
        Sources(store),
        Access(store),
        Directory(store),
        TopicIndex(store),
        threshold=10_000,
    )
    me = Principal(user_id="u1")
    second: dict[str, Any] = {}

    async def person_second_page() -> Any:
        if "key" not in second:
            second["key"] = (await reader.person(me, "a1", limit=20, after=None)).next_key
        return await reader.person(me, "a1", limit=20, after=second["key"])

    return {
        "home (timelines)": lambda: reader.home(me, limit=20, after=None),
        "group": lambda: reader.group(me, "g10", limit=20, after=None),
        "topic": lambda: reader.topic(me, "t1", limit=20, after=None),
        "person": lambda: reader.person(me, "a1", limit=20, after=None),
        "person, 2nd page": person_second_page,
        "questions-for-me": lambda: reader.questions_for(me, limit=20, after=None),
        "questions-for-me, no open question in my topics": lambda: reader.questions_for(
            Principal(user_id="u2"), limit=20, after=None
        ),
    }


async def bench_history(sizes: list[int], samples: int, rounds: int = 5) -> None:
    """Both stores stay open and are measured in alternating rounds, so drift in the
    machine (page cache, CPU clock, a WAL checkpoint) lands on both sizes alike."""
    stores: dict[int, DocumentStore] = {}
    dirs: list[Path] = []
    seeding: dict[int, float] = {}
    results: dict[str, dict[int, tuple[float, float, int]]] = {}
    try:
        for n in sizes:
            dirs.append(Path(tempfile.mkdtemp(prefix="bench-feeds-history-")))
            stores[n] = await prepared_store(settings_for(dirs[-1]))
            seeding[n] = await seed_history(stores[n], n)
        calls = {n: feed_calls(store) for n, store in stores.items()}
        items = {n: {name: len((await c()).posts) for name, c in calls[n].items()} for n in sizes}
        taken: dict[str, dict[int, list[float]]] = {}
        for _ in range(rounds):
            for n in sizes:
                for name, call in calls[n].items():
                    got = await timed(call, max(1, samples // rounds))
                    taken.setdefault(name, {}).setdefault(n, []).extend(got)
        for name, per_size in taken.items():
            for n, values in per_size.items():
                results.setdefault(name, {})[n] = (
                    statistics.median(values),
                    percentile(values, 0.99),
                    items[n][name],
                )
    finally:
        for store in stores.values():
            await store.close()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    small, big = sizes[0], sizes[-1]
    print(
        f"### (c) Feed page (20 items) vs history, SQLite, {samples} calls each, "
        f"in {rounds} alternating rounds\n"
    )
    for n in sizes:
        print(f"Seeding {n:,} posts + {n:,} timeline entries: {seeding[n]:.1f} s.")
    print()
    print(
        f"| feed | items @ {small:,} / {big:,} | p50 ms @ {small:,} | p50 ms @ {big:,} | ratio | "
        f"p99 ms @ {small:,} | p99 ms @ {big:,} |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, by_size in results.items():
        (s50, s99, s_items), (b50, b99, b_items) = by_size[small], by_size[big]
        print(
            f"| {name} | {s_items} / {b_items} | {s50:.2f} | {b50:.2f} | {b50 / s50:.2f} "
            f"| {s99:.2f} | {b99:.2f} |"
        )
    print()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--fanout", action="store_true")
    parser.add_argument("--history", action="store_true")
    parser.add_argument("--kafka", default=os.environ.get("CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--mongodb", default=os.environ.get("CANTEEN_TEST_MONGODB_URI"))
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=4, help="(b) posts fanned out in a row")
    parser.add_argument(
        "--cap",
        type=int,
        default=800,
        help="(b) timeline cap: about 1 in cap/8 entries triggers a trim after the writes",
    )
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    everything = not (args.http or args.fanout or args.history)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    if args.http or everything:
        await bench_http(args.duration)
    if args.fanout or everything:
        rows = []
        data_dir = Path(tempfile.mkdtemp(prefix="bench-feeds-fanout-"))
        try:
            rows += await bench_fanout(
                settings_for(data_dir),
                "SQLite bus + SQLite store",
                args.followers,
                cap=args.cap,
                posts=args.posts,
            )
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        if args.kafka and args.mongodb:
            external = CanteenSettings(
                env="dev",
                backend="external",
                kafka_bootstrap_servers=args.kafka,
                mongodb_uri=args.mongodb,
                mongodb_database_prefix=f"bench{uuid.uuid4().hex[:8]}",
            )
            rows += await bench_fanout(
                external, "Kafka + FerretDB", args.followers, cap=args.cap, posts=args.posts
            )
        print(f"### (b) Fan-out of one post: publish to the last timeline entry (cap {args.cap})\n")
        print("| backend, post | followers | seconds | entries/s | then trims, s |")
        print("|---|---:|---:|---:|---:|")
        print("\n".join(rows))
        print()
    if args.history or everything:
        await bench_history([10_000, args.big], args.samples)


if __name__ == "__main__":
    asyncio.run(main())

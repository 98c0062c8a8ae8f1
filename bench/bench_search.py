"""Search service: event-to-searchable latency and search latency through the HTTP API.

    python bench/bench_search.py [--external] [-n 50] [--corpus 2000] [--queries 200] [--stages]
                                 [--spread 0]

Runs the search service alone in-process (routes, consumer, index relay): embedded always
(SQLite bus, store and index); with --external on Kafka + FerretDB + OpenSearch (default
1 s refresh) at the CANTEEN_TEST_* addresses. Event-to-searchable: publish a post on the bus
and poll the search API until it is found. Prints a markdown table; asserts nothing.
Back to back (the default), each event is published right after the previous one became
searchable, i.e. right after an OpenSearch refresh: the worst phase of the 1 s refresh cycle
every time. `--spread 1` waits a random 0-1 s first, so events land at random phases of the
cycle, as independent writers' events do. With --stages it also prints where the
event-to-searchable time goes (per stage, timestamps taken by wrapping the projection fold
and the index relay's write).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import structlog
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from canteen.allinone import create_single
from services.search.indexing.relay import IndexRelay
from services.search.indexing.repository import Projections
from shared.backends import make_bus
from shared.events.envelope import new_event
from shared.events.schemas.activity import posts as p
from shared.settings import CanteenSettings

WORDS = [
    "kafka",
    "postgres",
    "python",
    "react",
    "search",
    "index",
    "latency",
    "cache",
    "deploy",
    "budget",
    "alert",
]


def settings(external: bool, data_dir: Path) -> CanteenSettings:
    common: dict[str, Any] = {
        "env": "dev",
        "data_dir": data_dir,
        "dev_signing_secret": "b" * 40,
        "cursor_secret": "c" * 40,
        "outbox_poll_seconds": 0.05,
    }
    if not external:
        return CanteenSettings(backend="embedded", **common)
    return CanteenSettings(
        backend="external",
        kafka_bootstrap_servers=os.environ["CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS"],
        mongodb_uri=os.environ["CANTEEN_TEST_MONGODB_URI"],
        mongodb_database_prefix=f"bench{uuid.uuid4().hex[:8]}",
        opensearch_url=os.environ["CANTEEN_TEST_OPENSEARCH_URL"],
        **common,
    )


def post(pid: str, text: str, rng: random.Random) -> p.PostCreated:
    return p.PostCreated(
        id=pid,
        kind="note",
        author_id="bench",
        audience="org",
        text=text,
        title=" ".join(rng.sample(WORDS, 3)),
        topics=[rng.choice(WORDS)],
        created_at=datetime.now(UTC),
    )


class Stages:
    """Timestamps of the measured events (ids `l<n>`) at each step of the indexing path."""

    def __init__(self) -> None:
        self.marks: dict[str, dict[str, float]] = {}

    def mark(self, doc_id: str, step: str) -> None:
        if doc_id.startswith("l"):
            self.marks.setdefault(doc_id, {}).setdefault(step, time.perf_counter())

    def install(self) -> None:
        apply, write = Projections.apply, IndexRelay.write
        stages = self

        async def timed_apply(self: Projections, name: str, doc_id: str, *a: Any, **k: Any) -> bool:
            stages.mark(doc_id, "fold_start")
            try:
                return await apply(self, name, doc_id, *a, **k)
            finally:
                stages.mark(doc_id, "fold_end")

        async def timed_write(self: IndexRelay, target: str, writes: list[Any]) -> Any:
            for w in writes:
                stages.mark(w[3].id, "write_start")
            try:
                return await write(self, target, writes)
            finally:
                for w in writes:
                    stages.mark(w[3].id, "write_end")

        Projections.apply = timed_apply  # type: ignore[method-assign]
        IndexRelay.write = timed_write  # type: ignore[method-assign]

    def table(self, name: str) -> str:
        steps = [
            ("published", "fold_start", "bus: publish -> handler"),
            ("fold_start", "fold_end", "fold into the projection"),
            ("fold_end", "write_start", "relay: wake, linger, read dirty, build"),
            ("write_start", "write_end", "index write"),
            ("write_end", "found", "until the search API finds it (refresh, poll)"),
        ]
        rows = [f"| {name}: stage | p50 ms | p95 ms |", "|---|---:|---:|"]
        for a, b, label in steps:
            spans = [m[b] - m[a] for m in self.marks.values() if a in m and b in m]
            if spans:
                rows.append(f"| {label} | {median(spans) * 1000:,.1f} | {p95(spans) * 1000:,.1f} |")
        return "\n".join(rows)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


async def run(
    name: str,
    cfg: CanteenSettings,
    n: int,
    corpus: int,
    queries: int,
    stages: Stages | None,
    spread: float = 0.0,
) -> str:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    bus = make_bus(cfg, "bench-search", topics=["canteen.activity"])
    await bus.start()
    app = create_single(cfg, "search")
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            token = (await http.post("/api/v1/dev/token", json={"sub": "bench"})).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}
            events = [
                new_event(post(f"c{i}", " ".join(rng.choices(WORDS, k=30)), rng))
                for i in range(corpus)
            ]
            for start in range(0, len(events), 500):
                await bus.publish_batch(
                    [("canteen.activity", e) for e in events[start : start + 500]]
                )
            while True:  # the corpus (and the consumer's group join) first
                body = (
                    await http.get("/api/v1/search", params={"q": "", "limit": 1}, headers=auth)
                ).json()
                if body.get("total", 0) >= corpus:
                    break
                await asyncio.sleep(0.2)
            latencies = []
            for i in range(n):
                word = f"zq{uuid.uuid4().hex[:10]}"
                if spread:
                    await asyncio.sleep(rng.uniform(0, spread))
                started = time.perf_counter()
                if stages:
                    stages.marks[f"l{i}"] = {"published": started}
                await bus.publish(
                    new_event(post(f"l{i}", f"fresh {word}", rng)), topic="canteen.activity"
                )
                while True:
                    found = await http.get("/api/v1/search", params={"q": word}, headers=auth)
                    if found.json()["total"] >= 1:
                        break
                    await asyncio.sleep(0.01)
                latencies.append(time.perf_counter() - started)
                if stages:
                    stages.marks[f"l{i}"]["found"] = time.perf_counter()
            search_times = []
            for _ in range(queries):
                q = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
                started = time.perf_counter()
                r = await http.get("/api/v1/search", params={"q": q, "limit": 20}, headers=auth)
                search_times.append(time.perf_counter() - started)
                assert r.status_code == 200
    await bus.close()
    breakdown = f"\n\n{stages.table(name)}\n" if stages else ""
    return breakdown + (
        f"| {name} | {corpus} | {p95(latencies) * 1000:,.0f} ms | "
        f"{sorted(latencies)[len(latencies) // 2] * 1000:,.0f} ms | "
        f"{p95(search_times) * 1000:,.1f} ms |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--external", action="store_true")
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--corpus", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--stages", action="store_true", help="also time each indexing step")
    parser.add_argument(
        "--spread", type=float, default=0.0, help="random pause (0..s seconds) before each event"
    )
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    rows = [
        "| backend | corpus | event→searchable p95 | p50 | search p95 (HTTP) |",
        "|---|---|---|---|---|",
    ]
    stages = Stages() if args.stages else None
    if stages:
        stages.install()
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(
            await run(
                "embedded (SQLite)",
                settings(False, Path(tmp) / "e"),
                args.n,
                args.corpus,
                args.queries,
                stages,
                args.spread,
            )
        )
        if args.external:
            if stages:
                stages.marks.clear()
            rows.append(
                await run(
                    "Kafka + FerretDB + OpenSearch",
                    settings(True, Path(tmp) / "x"),
                    args.n,
                    args.corpus,
                    args.queries,
                    stages,
                    args.spread,
                )
            )
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())

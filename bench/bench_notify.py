"""Notify: event -> SSE delivery latency, notification-producing events/s, unread-count cost.

    python bench/bench_notify.py [--kafka B --mongodb URI] [-n 3000] [--latency 200]
                                 [--reads 2000] [--warm] [--only embedded|external]

(a) events/s: the notify service (its `notify.inbox` consumer, outbox relay and all) runs in
    this process; N comment.created events to N distinct post authors are published first,
    then the time from the service's start to the Nth notification written is measured, and
    the rate once running (from a quarter of the events handled: start-up, mostly the
    consumer joining its group, and the first round of batches left out).
    "Written" = the consumer's handled-events counter reaches N (then one count checks the
    store holds N notifications). "Drained" also waits for the outbox relay to have
    published every notification's event (the bus's published counter reaches N): the
    rate the whole service sustains, since a relay that lags takes its work from later.
    SQLite always; with --kafka/--mongodb also Kafka + FerretDB (or MongoDB), then the raw
    engine's ceiling: the counter, group and notification each event writes, inserted with
    the bare driver in bulk, with their events in outbox records as the service writes
    them (and, for comparison, in each notification's own outbox, cleared by rewriting it,
    as before; and none) (bench/raw_engine.py; an upper bound for any consumer there).
    With --warm every recipient already has an unread counter, holding APPLIED_CAP
    notification ids claimed two hours ago, as after a while in service (one counter update
    per recipient instead of one bulk insert of new counters); the raw engine's row then
    updates such counters too.
(b) event -> SSE: the notify app on uvicorn (loopback), 20 SSE clients; each event is a
    follow of one client's user, published one at a time; latency = publish to the SSE
    frame arriving at the client. p50/p95 per backend.
(c) unread count: GET /api/v1/notifications/unread-count through the whole app (ASGI, auth
    included) and the repository read alone, p50/p95.
(d) mark one read: the repository's `mark_one` (the op recorded, the notification marked,
    its group and the counter counted down exactly once: readstate.py), p50/p95, against
    the bare write that marks a notification read and counts nothing (the engine's floor).
Prints markdown tables; stops if (a) finds fewer notifications stored than events handled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
import uvicorn
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.raw_engine import notify_writes
from canteen.allinone import create_single
from services.notify.inbox.repository import APPLIED_CAP, InboxRepository, kept
from shared.backends import make_bus, make_store
from shared.events.envelope import new_event
from shared.events.schemas.activity import TOPIC as ACTIVITY_TOPIC
from shared.events.schemas.activity.discussion import CommentCreated
from shared.events.schemas.activity.social import FollowCreated
from shared.events.schemas.notify import TOPIC as NOTIFY_TOPIC
from shared.settings import CanteenSettings

SECRET = "bench-secret-" + "z" * 32
CLIENTS = 20


def settings_for(args: argparse.Namespace, backend: str, data_dir: Path) -> CanteenSettings:
    common: dict[str, Any] = {
        "env": "dev",
        "data_dir": data_dir,
        "dev_signing_secret": SECRET,
        "cursor_secret": SECRET,
        "outbox_poll_seconds": 0.05,
        "bus_namespace": f"b{uuid.uuid4().hex[:8]}",
    }
    if backend == "embedded":
        return CanteenSettings(backend="embedded", **common)
    return CanteenSettings(
        backend="external",
        kafka_bootstrap_servers=args.kafka,
        mongodb_uri=args.mongodb,
        mongodb_database_prefix=f"bench{uuid.uuid4().hex[:8]}",
        **common,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def comment_for(i: int, run: str) -> CommentCreated:
    return CommentCreated(
        id=f"c-{run}-{i}",
        post_id=f"p-{run}-{i}",
        post_author_id=f"u-{run}-{i}",
        author_id=f"a-{run}-{i % 97}",
        text="Nice post",
        audience="org",
        created_at=datetime.now(UTC),
    )


def warm_applied() -> str:
    """A counter's `_applied` after a while in service: the ids of the last APPLIED_CAP
    notifications counted (32 hex characters each), claimed two hours ago (so the first
    claim reads them all and keeps none: `kept` in the inbox repository)."""
    minute = int(time.time() // 60) - 120
    return kept(None, [uuid.uuid4().hex for _ in range(APPLIED_CAP)], minute=minute)


async def bench_throughput(
    settings: CanteenSettings, n: int, *, warm: bool = False
) -> tuple[float, float, float, float]:
    """Events/s from the consumer's start to the Nth counted notification, per CPU-second,
    to the outbox drained as well, and once running: from a quarter of them handled to the
    Nth (the service's start-up, mostly the consumer joining its group, left out)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:6]
    if warm:  # as after a while in service (`warm_applied`)
        store = make_store(settings, "notify")
        applied = warm_applied()
        counters = [
            {
                "_id": comment_for(i, run).post_author_id,
                "seq": APPLIED_CAP,
                "unread": 1,
                "unseen": 1,
                "_applied": applied,
            }
            for i in range(n)
        ]
        await store.collection("unread_counters").insert_many(counters)
        await store.close()
    bus = make_bus(settings, "bench-publisher", topics=[ACTIVITY_TOPIC])
    await bus.start()
    batch = [(ACTIVITY_TOPIC, new_event(comment_for(i, run))) for i in range(n)]
    for i in range(0, n, 1000):
        await bus.publish_batch(batch[i : i + 1000])
    await bus.close()
    # In service the publisher is another process: kept here, its n events would be in
    # every heap scan of the process measured.
    del batch
    cpu, started = time.process_time(), time.perf_counter()
    # Stopping waits for the relay to publish the notifications' events (measured below as
    # "drained"); on FerretDB that could outlast asgi-lifespan's default 60 s.
    async with LifespanManager(
        create_single(settings, "notify"), startup_timeout=120, shutdown_timeout=600
    ) as manager:
        # Done = the inbox consumer reports all n events handled (its /metrics counter,
        # bumped after a batch's writes). Polling `count({})` instead was a full collection
        # scan on FerretDB every 50 ms, competing with the service it measures.
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            # Running = from a quarter of the events handled: after the first round of
            # batches, which start together on every partition and end close together (from
            # the first batch handled, their work done before the clock counted in the rate).
            while (first := await inbox_handled(http)) < n // 4:  # noqa: ASYNC110 - polls a counter
                await asyncio.sleep(0.01)
            running = time.perf_counter()
            while await inbox_handled(http) < n:  # noqa: ASYNC110 - polls a counter
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            steady = (n - first) / (time.perf_counter() - running) if first < n else 0.0
            used = time.process_time() - cpu
            # Drained = the relay has published n notification events (the bus counter;
            # a query on pending documents would compete with the relay it waits for).
            while await relayed(http) < n:  # noqa: ASYNC110 - polls a counter
                await asyncio.sleep(0.05)
        drained = time.perf_counter() - started
    store = make_store(settings, "notify")
    written = await store.collection("notifications").count({})
    await store.close()
    if written != n:
        raise SystemExit(f"{n} events handled but {written} notifications written")
    return n / elapsed, n / used, n / drained, steady


async def bench_raw(args: argparse.Namespace, tmp: Path, n: int) -> dict[str, float]:
    """The same events' writes with the bare driver (raw_engine.py) on the service's indexes
    (its setup runs first, on a fresh database each): events/s with the events in outbox
    records as the service writes them, in each notification's outbox cleared as before
    them, and with the inserts alone. With --warm, the first only, on warm counters."""
    rates = {}
    for outbox in ("records",) if args.warm else ("records", "cleared", "none"):
        settings = settings_for(args, "external", tmp / f"raw-{outbox}")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with LifespanManager(create_single(settings, "notify"), startup_timeout=120):
            pass  # the service's setup: its indexes
        uri = settings.mongodb_uri.get_secret_value()
        database = settings.mongodb_database("notify")
        warm = warm_applied() if args.warm else None
        rates[outbox] = await notify_writes(uri, database, n, outbox=outbox, warm=warm)
    return rates


async def inbox_handled(http: httpx.AsyncClient) -> float:
    """Events the `notify.inbox` consumer group has handled, from the app's /metrics."""
    text = (await http.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("canteen_bus_handled_total{") and 'notify.inbox"' in line
    )


async def relayed(http: httpx.AsyncClient) -> float:
    """Events the service has published on its own topic (its outbox relay), from /metrics."""
    text = (await http.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        # The label is the namespaced topic ("<namespace>.canteen.notify").
        if line.startswith("canteen_bus_published_total{") and f'{NOTIFY_TOPIC}"' in line
    )


@contextlib.asynccontextmanager
async def served(settings: CanteenSettings) -> AsyncIterator[str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_single(settings, "notify")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag only
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def bench_latency(settings: CanteenSettings, n: int) -> list[float]:
    """Publish `n` follows, one at a time, to 20 connected users; ms to each SSE frame."""
    run = uuid.uuid4().hex[:6]
    users = [f"s-{run}-{i}" for i in range(CLIENTS)]
    arrived: dict[str, float] = {}
    async with served(settings) as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        tokens = {}
        for user in users:
            r = await http.post("/api/v1/dev/token", json={"sub": user, "roles": []})
            tokens[user] = r.json()["access_token"]
        ready = asyncio.Event()
        opened = 0

        async def listen(user: str) -> None:
            nonlocal opened
            headers = {"Authorization": f"Bearer {tokens[user]}"}
            async with http.stream("GET", "/api/v1/notifications/stream", headers=headers) as r:
                async for line in r.aiter_lines():
                    if line.startswith("event: unread") and not ready.is_set():
                        opened += 1
                        if opened == CLIENTS:
                            ready.set()
                    if line.startswith("data: ") and '"follower"' in line:
                        follower = line.split('"actor_id":"', 1)[1].split('"', 1)[0]
                        arrived[follower] = time.perf_counter()

        listeners = [asyncio.create_task(listen(u)) for u in users]
        await asyncio.wait_for(ready.wait(), 60)
        bus = make_bus(settings, "bench-publisher", topics=[ACTIVITY_TOPIC])
        await bus.start()
        sent: dict[str, float] = {}
        for i in range(n):
            follower = f"f-{run}-{i}"
            payload = FollowCreated(
                id=f"{follower}:person:{users[i % CLIENTS]}",
                follower_id=follower,
                target_type="person",
                target_id=users[i % CLIENTS],
                created_at=datetime.now(UTC),
            )
            sent[follower] = time.perf_counter()
            await bus.publish(new_event(payload), topic=ACTIVITY_TOPIC)
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + 60
        while len(arrived) < n and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await bus.close()
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    return [(arrived[k] - sent[k]) * 1000 for k in sent if k in arrived]


async def bench_unread(settings: CanteenSettings, reads: int) -> tuple[list[float], list[float]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_single(settings, "notify")
    async with LifespanManager(app, startup_timeout=120) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            r = await http.post("/api/v1/dev/token", json={"sub": "reader", "roles": []})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            via_http = []
            for _ in range(reads):
                t = time.perf_counter()
                await http.get("/api/v1/notifications/unread-count", headers=headers)
                via_http.append((time.perf_counter() - t) * 1000)
    store = make_store(settings, "notify")
    repo = InboxRepository(store)
    direct = []
    for _ in range(reads):
        t = time.perf_counter()
        await repo.counter("reader")
        direct.append((time.perf_counter() - t) * 1000)
    await store.close()
    return via_http, direct


async def bench_mark(settings: CanteenSettings, n: int) -> tuple[list[float], list[float]]:
    """(d): `mark_one` n times, then the bare marking write n times, on one recipient."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(settings, "notify-mark")
    repo = InboxRepository(store)
    await repo.prepare()
    now, user = datetime.now(UTC), f"marker-{uuid.uuid4().hex[:8]}"
    docs = [
        {
            "_id": f"{user}-{i}",
            "recipient_id": user,
            "group_id": f"{user}-g",
            "seq": i + 1,
            "read_at": None,
            "seen_at": None,
            "hidden": False,
            "in_app": True,
            "created_at": now,
        }
        for i in range(2 * n)
    ]
    await repo.notifications.insert_many(docs)
    base = {"recipient_id": user, "count": 2 * n, "unread": 2 * n}
    await repo.groups.insert_one({"_id": f"{user}-g", **base, "_v": 2 * n})
    await repo.counters.insert_one({"_id": user, "seq": 2 * n, "unread": 2 * n, "unseen": 2 * n})
    marks, bare = [], []
    for i in range(n):
        t = time.perf_counter()
        await repo.mark_one(user, f"{user}-{i}", now)
        marks.append((time.perf_counter() - t) * 1000)
    for i in range(n, 2 * n):
        t = time.perf_counter()
        await repo.notifications.find_one_and_update(
            {"_id": f"{user}-{i}", "read_at": None}, {"$set": {"read_at": now}}
        )
        bare.append((time.perf_counter() - t) * 1000)
    unread = (await repo.counter(user))["unread"]
    await store.close()
    if unread != n:
        raise SystemExit(f"(d): the counter says {unread} unread, {n} expected")
    return marks, bare


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kafka", default=os.environ.get("CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--mongodb", default=os.environ.get("CANTEEN_TEST_MONGODB_URI"))
    parser.add_argument("-n", type=int, default=3000, help="events for the throughput run")
    parser.add_argument("--latency", type=int, default=200, help="events for the SSE run")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--marks", type=int, default=500, help="mark-one calls for (d)")
    parser.add_argument("--only", choices=["embedded", "external"], default=None)
    parser.add_argument("--warm", action="store_true", help="recipients have full counters already")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    backends = [("embedded", "SQLite")]
    if args.kafka and args.mongodb:
        backends.append(("external", "Kafka + FerretDB"))
    backends = [b for b in backends if args.only in (None, b[0])]
    with tempfile.TemporaryDirectory() as tmp:
        rows_t, rows_l, rows_u, rows_m = [], [], [], []
        for backend, label in backends:
            s = settings_for(args, backend, Path(tmp) / f"{backend}-t")
            wall, cpu, drained, steady = await bench_throughput(s, args.n, warm=args.warm)
            warmth = " (warm counters)" if args.warm else ""
            rows_t.append(
                f"| {label}{warmth} | {args.n} | {wall:,.0f} | {steady:,.0f} | {cpu:,.0f} "
                f"| {drained:,.0f} |"
            )
            if backend == "external" and args.warm:
                raw = await bench_raw(args, Path(tmp), args.n)
                rows_t.append(
                    f"| FerretDB alone: the same writes, bare driver, no service code "
                    f"| {args.n} | {raw['records']:,.0f} (counters updated, outbox records) "
                    f"| | | |"
                )
            elif backend == "external":
                raw = await bench_raw(args, Path(tmp), args.n)
                rows_t.append(
                    f"| FerretDB alone: the same writes, bare driver, no service code "
                    f"| {args.n} | {raw['records']:,.0f} (outbox records, as the service) "
                    f"| | | {raw['cleared']:,.0f} (outbox in each notification, as before) "
                    f"/ {raw['none']:,.0f} (inserts only) |"
                )
            lat = await bench_latency(
                settings_for(args, backend, Path(tmp) / f"{backend}-l"), args.latency
            )
            rows_l.append(
                f"| {label} | {len(lat)}/{args.latency} | {statistics.median(lat):.1f} | "
                f"{pct(lat, 0.95):.1f} | {max(lat):.1f} |"
            )
            via, direct = await bench_unread(
                settings_for(args, backend, Path(tmp) / f"{backend}-u"), args.reads
            )
            rows_u.append(
                f"| {label} | {statistics.median(via):.2f} | {pct(via, 0.95):.2f} | "
                f"{statistics.median(direct):.2f} | {pct(direct, 0.95):.2f} |"
            )
            marks, bare = await bench_mark(
                settings_for(args, backend, Path(tmp) / f"{backend}-m"), args.marks
            )
            rows_m.append(
                f"| {label} | {args.marks} | {statistics.median(marks):.2f} | "
                f"{pct(marks, 0.95):.2f} | {statistics.median(bare):.2f} | {pct(bare, 0.95):.2f} |"
            )
    print("### (a) Notification-producing events per second (one process)\n")
    print(
        "| backend | events | events/s (wall, from start) | events/s (running) "
        "| events per CPU-second | events/s, outbox drained |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows_t))
    print("\n### (b) Event published -> SSE frame at the client (ms)\n")
    print("| backend | delivered | p50 | p95 | max |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows_l))
    print("\n### (c) Unread count (ms)\n")
    print("| backend | HTTP p50 | HTTP p95 | store read p50 | store read p95 |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows_u))
    print("\n### (d) Mark one notification read (ms)\n")
    print("| backend | marks | mark_one p50 | mark_one p95 | bare write p50 | bare write p95 |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows_m))


if __name__ == "__main__":
    asyncio.run(main())

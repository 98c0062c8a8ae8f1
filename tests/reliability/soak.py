"""The soak (`make soak`, not in `make test`): the mixed workload for 30 minutes, a fault every
few minutes, then the convergence check of the fault tests.

Readers (90% of requests: home feed, search, notifications, unread count) and the writers of
workload.py (10%) run side by side against the four services on private engines (the rig of
conftest.py). Every `CANTEEN_SOAK_FAULT_EVERY` seconds the next fault of the cycle is
injected: SIGKILL of a random service, Kafka restart, OpenSearch stopped for 60 s, FerretDB
restart, notify SIGSTOPped past its session timeout. Every 30 s it samples each service's
resident memory and the consumer lag each service reports on /metrics.

Reported (stdout and var/reliability/soak-latest.json): memory per service after warm-up and
at the end (growth should be flat), the largest consumer lag seen and the lag at the end,
request counts and errors, and the time to converge at the end. It fails when the stack does
not converge, when an answer is a 500, or when a service ends above 1.5x its memory after
warm-up.

    make soak                                   # 30 minutes
    CANTEEN_SOAK_MINUTES=5 make soak            # a shorter run
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from typing import Any

import pytest

from tests.reliability.conftest import RESULTS, Rig
from tests.reliability.fleet import SERVICES
from tests.reliability.test_faults_under_load import converge
from tests.reliability.workload import AUTHORS, MENTIONED, WATCHER, Client, Workload

pytestmark = pytest.mark.engines

MINUTES = float(os.environ.get("CANTEEN_SOAK_MINUTES", "30"))
FAULT_EVERY_SECONDS = float(os.environ.get("CANTEEN_SOAK_FAULT_EVERY", "180"))
SAMPLE_EVERY_SECONDS = 30
WARMUP_SECONDS = 120
READERS = 6
SOAK_RESULTS = RESULTS.with_name("soak-latest.json")


async def lag_of(client: Client, service: str) -> int:
    """The summed consumer lag a service reports on /metrics (0 when it does not answer)."""
    try:
        response = await client.http.get(client.fleet.urls[service] + "/metrics", timeout=10)
    except Exception:
        return 0
    total = 0.0
    for line in response.text.splitlines():
        if line.startswith("canteen_bus_consumer_lag{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def reader(
    client: Client, rng: random.Random, stop: asyncio.Event, seen: Counter[str]
) -> None:
    people = [*AUTHORS, WATCHER, MENTIONED]
    reads = [
        ("GET", "/api/v1/feeds/home", {}),
        ("GET", "/api/v1/search", {"params": {"q": "deploy review"}}),
        ("GET", "/api/v1/notifications", {}),
        ("GET", "/api/v1/notifications/unread-count", {}),
    ]
    while not stop.is_set():
        method, path, kwargs = rng.choices(reads, (35, 25, 20, 20))[0]
        try:
            response = await client.request(method, path, as_=rng.choice(people), **kwargs)
            seen[f"{path} {response.status_code}"] += 1
            if response.status_code >= 500 and response.status_code != 503:
                client.ledger.server_errors.append(f"{path} {response.status_code}")
        except Exception as exc:  # a killed or paused service: counted, not fatal
            seen[f"{path} {type(exc).__name__}"] += 1


async def inject(rig: Rig, client: Client, fault: str, rng: random.Random) -> None:
    if fault == "sigkill":
        service = rng.choice(SERVICES)
        rig.fleet.kill(service)
        rig.fleet.restart(service)
        await asyncio.to_thread(rig.fleet.wait_ready, service)
    elif fault in ("kafka", "ferretdb"):
        await asyncio.to_thread(rig.engines.down, fault)
        await asyncio.sleep(15)  # the outage itself
        await asyncio.to_thread(rig.engines.up, fault)
    elif fault == "opensearch":
        await asyncio.to_thread(rig.engines.down, "opensearch")
        await asyncio.sleep(60)  # the outage itself
        await asyncio.to_thread(rig.engines.up, "opensearch")
    elif fault == "sigstop":
        rig.fleet.pause("notify")
        await asyncio.sleep(18)  # past the 10 s session timeout
        rig.fleet.resume("notify")


async def test_soak(rig: Rig, client: Client) -> None:
    rng = random.Random(11)
    workload = Workload(client, seed=11)
    await workload.setup()
    rig.ready = True
    stop = asyncio.Event()
    seen: Counter[str] = Counter()
    writers = asyncio.create_task(workload.run(0, until=stop, concurrency=1))
    readers = [
        asyncio.create_task(reader(client, random.Random(i), stop, seen)) for i in range(READERS)
    ]
    started = time.monotonic()
    samples: list[dict[str, Any]] = []
    faults = ["sigkill", "kafka", "opensearch", "ferretdb", "sigstop"]
    injected: list[str] = []
    next_fault = started + FAULT_EVERY_SECONDS
    next_sample = started
    while time.monotonic() - started < MINUTES * 60:
        now = time.monotonic()
        if now >= next_sample:
            lags = {s: await lag_of(client, s) for s in SERVICES}
            samples.append({"t": round(now - started), "rss_kib": rig.fleet.rss_kib(), "lag": lags})
            print(samples[-1], flush=True)
            next_sample = now + SAMPLE_EVERY_SECONDS
        if now >= next_fault:
            fault = faults[len(injected) % len(faults)]
            print(f"{round(now - started)}s: {fault}", flush=True)
            await inject(rig, client, fault, rng)
            injected.append(fault)
            next_fault = time.monotonic() + FAULT_EVERY_SECONDS
        await asyncio.sleep(1)  # the soak's clock tick
    stop.set()
    await writers
    await asyncio.gather(*readers)
    rig.fleet.wait_ready(*SERVICES)
    seconds, _ = await converge(client, rig)
    end_lags = {s: await lag_of(client, s) for s in SERVICES}
    warm = next((s for s in samples if s["t"] >= WARMUP_SECONDS), samples[0])
    report = {
        "minutes": MINUTES,
        "faults": injected,
        "requests": sum(seen.values()) + len(rig.ledger.writes),
        "writes": len(rig.ledger.writes),
        "read_statuses": dict(seen),
        "rss_kib_after_warmup": warm["rss_kib"],
        "rss_kib_end": rig.fleet.rss_kib(),
        "max_lag": {s: max(x["lag"][s] for x in samples) for s in SERVICES},
        "end_lag": end_lags,
        "converged_seconds": round(seconds, 1),
        "samples": samples,
    }
    SOAK_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    SOAK_RESULTS.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
    assert not rig.ledger.server_errors, rig.ledger.server_errors[:5]
    # Flat memory: no service ends above 1.5x what it used after warm-up (a restarted one
    # starts again from less).
    grown = {
        s: (warm["rss_kib"][s], report["rss_kib_end"][s])
        for s in SERVICES
        if report["rss_kib_end"][s] > 1.5 * warm["rss_kib"][s]
    }
    assert not grown, f"memory grew: {grown}"

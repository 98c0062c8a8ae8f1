"""Faults under load: the four services as processes on real engines, broken on purpose.

Each test runs the load generator (workload.py: posts, questions, answers, reactions and
follows from a dozen people, retried by Idempotency-Key as a mobile client does) while it
injects one fault, then waits for the stack to converge and compares every service with the
store of truth (convergence.py). They share one stack and one growing ledger, in order:

1. SIGKILL each service twice at random moments of the load, restarting it each time;
2. stop the Kafka broker mid-load, then start it again (its log kept, as a broker's is);
3. stop OpenSearch for 60 s, then start it;
4. stop the MongoDB-wire engine (FerretDB) mid-load, then start it;
5. SIGSTOP the notify process past its consumer group's session timeout, then SIGCONT.

During each outage the APIs answer 503 problem+json (never a 500, never a hang past the
client's 60 s timeout) and `/readyz` names the dependency that is down. Afterwards: no
acknowledged write lost, nothing downstream that activity does not hold, no duplicate
timeline entry, notification, index document or expertise evidence, exact counters. The
numbers (writes, refused writes, convergence time) go to var/reliability/faults-latest.json
and docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.reliability.conftest import Rig
from tests.reliability.convergence import Truth, all_problems, not_written, read_truth
from tests.reliability.fleet import SERVICES
from tests.reliability.workload import AUTHORS, Client, Workload, Write

pytestmark = pytest.mark.engines

# Writes per fault at least (the load also runs on for as long as the fault lasts).
OPERATIONS = int(os.environ.get("CANTEEN_FAULT_OPERATIONS", "400"))
CONVERGE_WITHIN_SECONDS = 600  # stated bound; one check pass alone takes 30-90 s on FerretDB
OUTAGE_PROBE_SECONDS = 90
OPENSEARCH_OUTAGE_SECONDS = 60
PAUSE_PAST_SESSION_TIMEOUT_SECONDS = 10 + 8  # aiokafka's session.timeout.ms is 10 s

Fault = Callable[[], Awaitable[dict[str, Any]]]


async def progress(rig: Rig, writes: int) -> None:
    """Until the load has made `writes` more writes (a moment in the load, not a time)."""
    target = len(rig.ledger.writes) + writes
    deadline = time.monotonic() + 300
    while len(rig.ledger.writes) < target:
        assert time.monotonic() < deadline, "the load stopped making progress"
        await asyncio.sleep(0.05)


async def readiness(client: Client, service: str) -> dict[str, Any]:
    response = await client.http.get(client.fleet.urls[service] + "/readyz", timeout=30)
    if response.status_code == 200:
        return {}
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {k: v for k, v in response.json()["checks"].items() if v["status"] != "ok"}


async def until_named(client: Client, service: str, check: str) -> None:
    """/readyz of `service` answers 503 and names `check` as failed (bounded poll)."""
    deadline = time.monotonic() + OUTAGE_PROBE_SECONDS
    while check not in (failed := await readiness(client, service)):
        assert time.monotonic() < deadline, f"{service}/readyz never named {check}: {failed}"
        await asyncio.sleep(0.25)


async def until_503(client: Client, method: str, path: str, **kwargs: Any) -> float:
    """The route answers 503 problem+json with Retry-After; returns the answer's latency."""
    deadline = time.monotonic() + OUTAGE_PROBE_SECONDS
    while True:
        started = time.monotonic()
        response = await client.request(method, path, as_=AUTHORS[0], **kwargs)
        elapsed = time.monotonic() - started
        assert response.status_code < 500 or response.status_code == 503, response.text
        if response.status_code == 503:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers.get("retry-after"), response.headers
            return elapsed
        assert time.monotonic() < deadline, f"{path} never answered 503: {response.status_code}"
        await asyncio.sleep(0.25)


async def converge(client: Client, rig: Rig) -> tuple[float, Truth]:
    """Seconds until every service agrees with the store of truth (fails at the deadline)."""
    started = time.monotonic()
    delay = 0.5
    first = await read_truth(client, rig.ledger)
    while True:
        truth = await read_truth(client, rig.ledger, first)
        problems = await all_problems(client, rig.ledger, truth)
        if not problems:
            return time.monotonic() - started, truth
        if time.monotonic() - started > CONVERGE_WITHIN_SECONDS:
            rig.diverged = problems[0]
            pytest.fail(
                f"not converged within {CONVERGE_WITHIN_SECONDS}s:\n" + "\n".join(problems[:40])
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5)


async def under_load(rig: Rig, client: Client, name: str, fault: Fault) -> list[Write]:
    """Run the load with the fault, converge, check; the writes of this fault."""
    if rig.diverged:
        # The ledger is shared: every later check would fail on the same disagreement,
        # after its own wait of CONVERGE_WITHIN_SECONDS.
        pytest.fail(f"an earlier fault left the stack unconverged: {rig.diverged}")
    workload = Workload(client, seed=len(rig.results) + 1)
    if not rig.ready:
        await workload.setup()
        rig.ready = True
    before = len(rig.ledger.writes)
    rig.ledger.slowest_answer = 0.0
    over = asyncio.Event()
    load = asyncio.create_task(workload.run(OPERATIONS, until=over))
    try:
        info = await fault()
    finally:
        over.set()
        # Even when the fault itself failed: every write in flight lands in the ledger.
        written = await load
    rig.fleet.wait_ready(*SERVICES)
    seconds, truth = await converge(client, rig)
    ledger = rig.ledger
    assert not ledger.server_errors, ledger.server_errors[:5]
    assert not ledger.hung, f"requests without an answer within the client timeout: {ledger.hung}"
    assert not ledger.rejected, f"writes refused with a 4xx: {ledger.rejected[:5]}"
    writes = ledger.writes[before:]
    exercised = {w.kind for w in writes if w.fate == "acked"}
    assert exercised == {"post", "answer", "reaction", "follow"}, exercised
    rig.record(
        name,
        writes=written,
        acked=sum(w.fate == "acked" for w in writes),
        refused=sum(w.fate == "refused" for w in writes),
        unknown=sum(w.fate == "unknown" for w in writes),
        refused_not_written=len(not_written(ledger, truth)),
        posts_total=len(truth.posts),
        answers_total=len(truth.answers),
        converged_seconds=round(seconds, 1),
        slowest_answer_seconds=round(ledger.slowest_answer, 2),
        **info,
    )
    return writes


async def test_sigkill_each_service_at_random_moments(rig: Rig, client: Client) -> None:
    rng = random.Random(7)

    async def fault() -> dict[str, Any]:
        victims = [*SERVICES, *SERVICES]
        rng.shuffle(victims)
        for service in victims:
            await progress(rig, rng.randint(10, 40))
            rig.fleet.kill(service)
            rig.fleet.restart(service)
            await asyncio.to_thread(rig.fleet.wait_ready, service)
        return {"kills": len(victims)}

    await under_load(rig, client, "SIGKILL each service twice", fault)


async def test_kafka_broker_restart(rig: Rig, client: Client) -> None:
    async def fault() -> dict[str, Any]:
        await progress(rig, 40)
        started = time.monotonic()
        await asyncio.to_thread(rig.engines.down, "kafka")
        for service in SERVICES:
            await until_named(client, service, f"{service}.bus")
        await progress(rig, 60)  # writes go on: the outbox keeps their events
        await asyncio.to_thread(rig.engines.up, "kafka")
        return {"outage_seconds": round(time.monotonic() - started, 1)}

    writes = await under_load(rig, client, "Kafka broker stopped and restarted", fault)
    # Writes during the outage were acknowledged: the outbox held their events.
    assert not [w for w in writes if w.fate == "refused"]


async def test_opensearch_down_for_60_seconds(rig: Rig, client: Client) -> None:
    async def fault() -> dict[str, Any]:
        await progress(rig, 40)
        started = time.monotonic()
        await asyncio.to_thread(rig.engines.down, "opensearch")
        latency = await until_503(client, "GET", "/api/v1/search", params={"q": "deploy"})
        await until_named(client, "search", "search.index")
        # The outage lasts its full minute, whatever the probes took.
        await asyncio.sleep(max(0.0, OPENSEARCH_OUTAGE_SECONDS - (time.monotonic() - started)))
        await asyncio.to_thread(rig.engines.up, "opensearch")
        return {
            "outage_seconds": round(time.monotonic() - started, 1),
            "search_503_latency_seconds": round(latency, 2),
        }

    await under_load(rig, client, "OpenSearch stopped for 60 s", fault)


async def test_mongodb_wire_engine_restart(rig: Rig, client: Client) -> None:
    async def fault() -> dict[str, Any]:
        await progress(rig, 40)
        started = time.monotonic()
        await asyncio.to_thread(rig.engines.down, "ferretdb")
        body = {"body_md": "during the store outage", "tags": ["python"]}
        write_latency = await until_503(client, "POST", "/api/v1/posts", json=body)
        read_latency = await until_503(client, "GET", "/api/v1/feeds/home")
        for service in SERVICES:
            await until_named(client, service, f"{service}.store")
        await progress(rig, 20)  # the load meets the outage too (its writes are refused)
        await asyncio.to_thread(rig.engines.up, "ferretdb")
        return {
            "outage_seconds": round(time.monotonic() - started, 1),
            "write_503_latency_seconds": round(write_latency, 2),
            "read_503_latency_seconds": round(read_latency, 2),
        }

    writes = await under_load(rig, client, "FerretDB stopped and restarted", fault)
    # The outage really refused writes (and convergence showed none was written anyway).
    assert [w for w in writes if w.fate == "refused"]


async def test_consumer_paused_past_session_timeout(rig: Rig, client: Client) -> None:
    async def fault() -> dict[str, Any]:
        await progress(rig, 40)
        rig.fleet.pause("notify")
        # The pause itself is the fault: long enough for the group to evict the member.
        await asyncio.sleep(PAUSE_PAST_SESSION_TIMEOUT_SECONDS)
        rig.fleet.resume("notify")
        return {"paused_seconds": PAUSE_PAST_SESSION_TIMEOUT_SECONDS}

    await under_load(rig, client, "notify SIGSTOPped past its session timeout", fault)

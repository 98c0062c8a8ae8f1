"""While the Kafka broker is down, the bus retries at a bounded pace, then resumes on its return.

aio-libs/aiokafka#496: with aiokafka's defaults every consumer's fetch and coordinator loops
and the producer's sender reconnect ten times a second, and a producer whose pending batch
lost its partition leader while the broker shut down reconnects in a busy loop (100% of a
core, thousands of refused connections a second). The broker here is a private one
(`PrivateEngines`, as in the fault tests), stopped while a publisher is writing, the way an
outbox relay is. Every TCP connection the process opens goes through the event loop's
`create_connection`, which the test counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaError
from bus_support import eventually, make_event, running

from shared.backends import make_bus
from shared.bus import EventBus
from shared.events.envelope import Event
from shared.settings import CanteenSettings
from tests.reliability.fleet import PrivateEngines

pytestmark = pytest.mark.engines

TOPIC = "test.outage.things"
GROUPS = 3  # a service has several consumer groups, one client each, and one producer
OUTAGE_SECONDS = 10
# A client retries a few loops (fetch, coordinator lookup, metadata, send) a couple of times
# a second. aiokafka's defaults make about 35 attempts per client per second; a spin, thousands.
ATTEMPTS_PER_CLIENT_SECOND = 10
RECOVERY_SECONDS = 60  # events flow again within this of the broker answering (generous)


class Connections:
    """Counts the TCP connections the running event loop is asked to open."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts = 0
        loop = asyncio.get_running_loop()
        open_connection = loop.create_connection

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.attempts += 1
            return await open_connection(*args, **kwargs)

        monkeypatch.setattr(loop, "create_connection", counted)


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[PrivateEngines]:
    engines = PrivateEngines(tmp_path / "engines")
    engines.up("kafka")
    try:
        yield engines
    finally:
        engines.down("kafka")


def recorder(seen: set[str]) -> Callable[[Event], Awaitable[None]]:
    async def handle(event: Event) -> None:
        seen.add(event.id)

    return handle


async def publish_without_pause(bus: EventBus) -> None:
    """Keeps produce requests in flight, and one pending once the broker is gone."""
    n = 0
    while True:
        n += 1
        with contextlib.suppress(KafkaError):  # refused while the broker stops: not under test
            await bus.publish(make_event("load", n), topic=TOPIC)


async def attempts_over(connections: Connections, seconds: float, bound: int) -> int:
    """The connection attempts made in `seconds`; fails as soon as they reach `bound`."""
    loop = asyncio.get_running_loop()
    start, started = connections.attempts, loop.time()
    while (elapsed := loop.time() - started) < seconds:
        made = connections.attempts - start
        if made >= bound:
            pytest.fail(f"{made} connection attempts in {elapsed:.1f}s of outage (bound {bound})")
        await asyncio.sleep(0.1)
    return connections.attempts - start


async def test_a_broker_outage_costs_few_connection_attempts_and_consumption_resumes(
    private_kafka: PrivateEngines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = CanteenSettings(  # type: ignore[call-arg]
        backend="external",
        data_dir=tmp_path / "var",
        kafka_bootstrap_servers=private_kafka.addresses["kafka"],
        bus_namespace=f"t{uuid.uuid4().hex[:10]}",
    )
    bus = make_bus(settings, "outage-test", [TOPIC])
    await bus.start()
    seen: dict[str, set[str]] = {f"test.outage.g{i}": set() for i in range(GROUPS)}
    connections = Connections(monkeypatch)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for group, ids in seen.items():
                consumer = bus.consumer(group=group, topics=[TOPIC], handler=recorder(ids))
                await stack.enter_async_context(running(consumer))
            first = make_event("first", 0)
            await bus.publish(first, topic=TOPIC)
            await eventually(lambda: all(first.id in ids for ids in seen.values()), within=60)

            publisher = asyncio.create_task(publish_without_pause(bus))
            try:
                await asyncio.to_thread(private_kafka.down, "kafka")
                bound = ATTEMPTS_PER_CLIENT_SECOND * (GROUPS + 1) * OUTAGE_SECONDS
                made = await attempts_over(connections, OUTAGE_SECONDS, bound)
                print(f"{made} connection attempts in {OUTAGE_SECONDS}s of outage (<{bound})")
            finally:
                publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await publisher
                await asyncio.to_thread(private_kafka.up, "kafka")

            probe = make_event("probe", 1)
            await asyncio.wait_for(bus.publish(probe, topic=TOPIC), RECOVERY_SECONDS)
            await eventually(
                lambda: all(probe.id in ids for ids in seen.values()), within=RECOVERY_SECONDS
            )
    finally:
        await bus.close()

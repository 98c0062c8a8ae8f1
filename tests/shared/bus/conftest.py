"""Fixtures of the event bus contract suite: one `bus` per adapter, the same tests for both."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bus_support import BusFactory

from shared.bus import EventBus

KAFKA_ENV = "CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS"
# Small enough that a killed member is noticed quickly, large enough for a busy 2-core box.
KAFKA_CONSUMER_OPTIONS = {
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 300,
    "metadata_max_age_ms": 2000,
}


@pytest.fixture(params=["sqlite", pytest.param("kafka", marks=pytest.mark.engines)])
async def bus_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BusFactory]:
    if request.param == "sqlite":
        options: dict[str, Any] = {
            "path": str(tmp_path / "bus.sqlite3"),
            "partitions": 3,
            "poll_interval": 0.02,
            "lease_ttl": 1.5,
        }
    else:
        servers = os.environ.get(KAFKA_ENV)
        if not servers:
            pytest.fail(f"{KAFKA_ENV} not set: run `make engines-up` or `make test`")
        options = {
            "bootstrap_servers": servers,
            "client_id": f"canteen-test-{uuid.uuid4().hex[:8]}",
            "partitions": 3,
            "consumer_options": KAFKA_CONSUMER_OPTIONS,
        }
    # Kafka runs through NamespacedEventBus: the contract holds through the decorator too.
    namespace = None if request.param == "sqlite" else f"ns{uuid.uuid4().hex[:8]}"
    factory = BusFactory(request.param, options, namespace=namespace)
    yield factory
    for bus in factory.opened:
        await bus.close()


@pytest.fixture
async def bus(bus_factory: BusFactory) -> EventBus:
    return await bus_factory.open()


@pytest.fixture
async def topic(bus: EventBus) -> str:
    name = f"test.bus.{uuid.uuid4().hex[:12]}"
    await bus.create_topics([name])
    return name


@pytest.fixture
def group() -> str:
    return f"test-group-{uuid.uuid4().hex[:12]}"

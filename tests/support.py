"""Helpers every test may use: waiting with a deadline, and the engines' addresses."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest

from shared.backends import make_store
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore

T = TypeVar("T")

ENGINE_VARS = {
    "kafka": "CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS",
    "mongodb": "CANTEEN_TEST_MONGODB_URI",
    "opensearch": "CANTEEN_TEST_OPENSEARCH_URL",
}


def engine_address(engine: str) -> str:
    """The address of a real engine, or a test failure that says how to start it."""
    var = ENGINE_VARS[engine]
    value = os.environ.get(var)
    if not value:
        pytest.fail(f"{var} not set: run `make engines-up` or `make test`", pytrace=False)
    return value


class ManualClock:
    """A clock a test moves by hand (`clock.now = ...`), for code that takes `clock=`."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def eventually(
    probe: Callable[[], Awaitable[T]], *, until: Callable[[T], bool] = bool, within: float = 30
) -> T:
    """Poll `probe` until `until(result)` holds; fail with the last result at the deadline."""
    deadline = time.monotonic() + within
    delay = 0.01
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within}s; last result: {result!r}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)


@asynccontextmanager
async def service_store(settings: CanteenSettings, service: str) -> AsyncIterator[DocumentStore]:
    """A connection of its own to a service's store (beside the service, or instead of it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(settings, service)
    try:
        yield store
    finally:
        await store.close()

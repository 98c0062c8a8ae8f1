"""Helpers every test may use: waiting with a deadline, and the engines' addresses."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

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

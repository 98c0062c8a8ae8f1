"""OWASP API6 (sensitive business flows): writes are rate limited per person.

The limiter itself on a fake clock, then the real thing through the API on both backends:
past the burst a write is a 429 problem+json with Retry-After and nothing is written.
"""

from __future__ import annotations

from typing import Any

import pytest

from canteen.allinone import create_single
from shared.http.ratelimit import DEFAULT_LIMITS, Limit, RateLimiter, limited
from shared.settings import CanteenSettings
from tests.conftest import login_with, serve
from tests.support import ManualClock


def note(text: str) -> dict[str, Any]:
    return {"body_md": text}


def test_a_burst_then_the_sustained_rate() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter({"post": Limit(per_minute=6, burst=3)}, clock=clock)
    assert [limiter.hit("post", "ana") for _ in range(3)] == [None, None, None]
    wait = limiter.hit("post", "ana")
    assert wait == pytest.approx(10.0)  # one every 10 s once the burst is spent
    assert limiter.hit("post", "ben") is None  # per person
    clock.now += 10
    assert limiter.hit("post", "ana") is None
    assert limiter.hit("post", "ana") is not None


def test_a_refused_request_does_not_use_up_the_allowance() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter({"post": Limit(per_minute=60, burst=1)}, clock=clock)
    assert limiter.hit("post", "ana") is None
    for _ in range(50):  # hammering while limited must not push the next slot further out
        assert limiter.hit("post", "ana") is not None
    clock.now += 1
    assert limiter.hit("post", "ana") is None


def test_the_multiplier_scales_or_disables_every_limit() -> None:
    clock = ManualClock(1000.0)
    doubled = RateLimiter({"post": Limit(per_minute=6, burst=3)}, multiplier=2, clock=clock)
    assert sum(doubled.hit("post", "ana") is None for _ in range(10)) == 6
    off = RateLimiter(multiplier=0, clock=clock)
    assert all(off.hit("post", "ana") is None for _ in range(1000))


def test_memory_is_bounded() -> None:
    limiter = RateLimiter({"post": Limit(per_minute=1, burst=1)}, max_keys=100)
    for i in range(1000):
        limiter.hit("post", f"user-{i}")
    assert len(limiter._tat) == 100


def test_unknown_actions_are_a_programming_error() -> None:
    with pytest.raises(KeyError):
        limited("teleport")
    assert set(DEFAULT_LIMITS) >= {"post", "answer", "comment", "reaction", "follow"}


async def test_past_the_burst_a_post_is_a_429_and_nothing_is_written(
    settings: CanteenSettings,
) -> None:
    app = create_single(settings, "activity")
    # Frozen time: the limit must not depend on how fast this machine writes 20 posts.
    app.state.rate_limiter = RateLimiter(clock=ManualClock(1000.0))
    async for client in serve(app):
        login = login_with(client)
        ana, ben = await login("ana"), await login("ben")
        burst = DEFAULT_LIMITS["post"].burst
        for i in range(burst):
            ok = await client.post("/api/v1/posts", json=note(f"post {i}"), headers=ana)
            assert ok.status_code == 201, ok.text
        refused = await client.post("/api/v1/posts", json=note("one too many"), headers=ana)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "urn:canteen:problem:rate-limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Another person is not affected, and the refused post does not exist.
        assert (
            await client.post("/api/v1/posts", json=note("ben"), headers=ben)
        ).status_code == 201
        listed = await client.get("/api/v1/posts", params={"limit": 50}, headers=ana)
        assert listed.status_code == 200, listed.text
        by_ana = [p for p in listed.json()["items"] if p["author_id"] == "ana"]
        assert len(by_ana) == burst
        assert all("one too many" not in p["body_md"] for p in by_ana)

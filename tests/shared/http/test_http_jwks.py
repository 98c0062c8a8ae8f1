"""The JWKS cache: TTL, rotation, rate limiting and outages, against a real HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from http_kit_support import JwksServer, SigningKey

from shared.http.auth import JwksCache, KeysUnavailable
from shared.http.auth.jwks import parse_jwks

TTL = 300.0
MIN_REFRESH = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cache(jwks: JwksServer, clock: FakeClock) -> AsyncIterator[JwksCache]:
    async with httpx.AsyncClient() as client:
        yield JwksCache(
            client, jwks.url, ttl_seconds=TTL, min_refresh_seconds=MIN_REFRESH, clock=clock
        )


async def test_keys_are_fetched_once_and_cached(cache: JwksCache, jwks: JwksServer) -> None:
    rsa = await cache.key_for("rsa-1")
    ec = await cache.key_for("ec-1")

    assert rsa is not None and rsa.algorithm == "RS256"
    assert ec is not None and ec.algorithm == "ES256"
    assert jwks.fetches == 1


async def test_an_unknown_kid_is_refetched_only_after_the_interval(
    cache: JwksCache, jwks: JwksServer, clock: FakeClock, rsa2: SigningKey
) -> None:
    await cache.key_for("rsa-1")
    jwks.serve(rsa2)

    clock.now += MIN_REFRESH - 1
    assert await cache.key_for("rsa-2") is None
    assert jwks.fetches == 1

    clock.now += 1
    key = await cache.key_for("rsa-2")
    assert key is not None and key.kid == "rsa-2"
    assert jwks.fetches == 2


async def test_a_burst_of_unknown_kids_costs_one_fetch(
    cache: JwksCache, jwks: JwksServer, clock: FakeClock
) -> None:
    await cache.key_for("rsa-1")
    clock.now += MIN_REFRESH

    found = await asyncio.gather(*(cache.key_for(f"forged-{i}") for i in range(20)))

    assert found == [None] * 20
    assert jwks.fetches == 2


async def test_keys_are_refreshed_after_the_ttl(
    cache: JwksCache, jwks: JwksServer, clock: FakeClock, rsa2: SigningKey
) -> None:
    await cache.key_for("rsa-1")
    jwks.serve(rsa2)

    clock.now += TTL

    assert await cache.key_for("rsa-1") is None
    assert await cache.key_for("rsa-2") is not None
    assert jwks.fetches == 2


async def test_an_outage_keeps_serving_the_cached_keys(
    cache: JwksCache, jwks: JwksServer, clock: FakeClock
) -> None:
    await cache.key_for("rsa-1")
    jwks.status = 503

    clock.now += TTL
    key = await cache.key_for("rsa-1")

    assert key is not None
    assert jwks.fetches == 2


async def test_no_keys_ever_fetched_is_unavailable(
    cache: JwksCache, jwks: JwksServer, clock: FakeClock
) -> None:
    jwks.status = 500

    with pytest.raises(KeysUnavailable):
        await cache.key_for("rsa-1")
    # Still rate limited: a failing IdP is not hammered on every request.
    with pytest.raises(KeysUnavailable):
        await cache.key_for("rsa-1")
    assert jwks.fetches == 1

    jwks.status = 200
    clock.now += MIN_REFRESH
    assert await cache.key_for("rsa-1") is not None


def test_only_signature_keys_of_allowed_types_are_kept(rsa1: SigningKey, ec1: SigningKey) -> None:
    document = {
        "keys": [
            rsa1.jwk(),
            ec1.jwk(),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {**rsa1.jwk(), "kid": "enc", "use": "enc"},
            {**rsa1.jwk(), "kid": "rsa-as-ps", "alg": "PS256"},
            {**ec1.jwk(), "kid": "ec-as-rs", "alg": "RS256"},
            {**rsa1.jwk(), "kid": None},
            {"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "!!"},
            "not-a-key",
        ]
    }

    assert sorted(parse_jwks(document)) == ["ec-1", "rsa-1"]
    assert parse_jwks({"no": "keys"}) == {}
    assert parse_jwks(["keys"]) == {}

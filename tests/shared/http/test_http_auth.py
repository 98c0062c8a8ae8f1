"""Bearer JWT authentication: accepted tokens, JWKS rotation, dev mode."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import structlog
from http_kit_support import (
    DEV_SECRET,
    Demo,
    JwksServer,
    SigningKey,
    bearer,
    claims,
    handmade,
    make_app,
    make_config,
    serve,
    sign,
)

from shared.http.auth.verifier import CACHE_SECONDS, TokenVerifier

ME = "/api/v1/demo/me"
ADMIN = "/api/v1/demo/admin"
DEV_TOKEN = "/api/v1/dev/token"


async def test_rs256_and_es256_tokens_give_a_principal(
    client: httpx.AsyncClient, rsa1: SigningKey, ec1: SigningKey
) -> None:
    for key in (rsa1, ec1):
        response = await client.get(ME, headers=bearer(sign(key, sub="ada", roles=["staff"])))

        assert response.status_code == 200, response.text
        assert response.json() == {"user_id": "ada", "roles": ["staff"]}


async def test_an_admin_reaches_admin_routes(client: httpx.AsyncClient, rsa1: SigningKey) -> None:
    response = await client.get(ADMIN, headers=bearer(sign(rsa1, sub="root", roles=["admin"])))

    assert response.status_code == 200, response.text
    assert response.json() == {"admin": "root"}


async def test_clock_skew_within_the_leeway_is_tolerated(
    client: httpx.AsyncClient, rsa1: SigningKey
) -> None:
    now = int(time.time())
    just_expired = sign(rsa1, iat=now - 300, exp=now - 10)
    early = sign(rsa1, nbf=now + 10, iat=now + 10)

    for token in (just_expired, early):
        response = await client.get(ME, headers=bearer(token))
        assert response.status_code == 200, response.text


async def test_a_rotated_key_verifies_after_one_refetch(
    jwks: JwksServer, rsa1: SigningKey, rsa2: SigningKey
) -> None:
    async with serve(make_app(make_config(jwks.url))) as client:
        first = await client.get(ME, headers=bearer(sign(rsa1)))
        assert first.status_code == 200
        assert jwks.fetches == 1

        jwks.serve(rsa2)
        rotated = await client.get(ME, headers=bearer(sign(rsa2, sub="after-rotation")))

        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["user_id"] == "after-rotation"
        assert jwks.fetches == 2
        # The cache now holds the new set only: the retired key is refused.
        retired = await client.get(ME, headers=bearer(sign(rsa1)))
        assert retired.status_code == 401
        assert retired.json()["detail"] == "unknown signing key"


async def test_unknown_kids_refetch_at_most_once_per_interval(
    jwks: JwksServer, rsa1: SigningKey, rsa2: SigningKey
) -> None:
    config = make_config(jwks.url, auth_jwks_min_refresh_seconds=3600)
    async with serve(make_app(config)) as client:
        assert (await client.get(ME, headers=bearer(sign(rsa1)))).status_code == 200
        jwks.serve(rsa1, rsa2)

        for kid in ("forged-1", "forged-2", "rsa-2"):
            response = await client.get(ME, headers=bearer(sign(rsa2, kid=kid)))
            assert response.status_code == 401
            assert response.json()["detail"] == "unknown signing key"

        assert jwks.fetches == 1


async def test_an_unreachable_jwks_is_a_503_not_a_401(rsa1: SigningKey) -> None:
    down = JwksServer()
    down.status = 500
    down.start()
    try:
        async with serve(make_app(make_config(down.url))) as client:
            response = await client.get(ME, headers=bearer(sign(rsa1)))
    finally:
        down.stop()

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:canteen:problem:auth-unavailable"


async def test_tokens_never_reach_the_logs(client: httpx.AsyncClient, rsa1: SigningKey) -> None:
    good, expired = sign(rsa1), sign(rsa1, iat=1, exp=2)

    with structlog.testing.capture_logs() as logs:
        await client.get(ME, headers=bearer(good))
        await client.get(ME, headers=bearer(expired))

    events = [e["event"] for e in logs]
    assert "http.auth.token_rejected" in events
    assert "http.request.completed" in events
    text = repr(logs)
    for token in (good, expired):
        assert token not in text
        assert token.split(".")[1] not in text  # not even the payload part


# --- dev mode -------------------------------------------------------------------------


@pytest.fixture
async def dev_client(demo: Demo) -> AsyncIterator[httpx.AsyncClient]:
    config = make_config(None, dev_mode=True, auth_dev_signing_secret=DEV_SECRET)
    async with serve(make_app(config, demo)) as client:
        yield client


async def test_dev_mode_issues_tokens_the_app_accepts(dev_client: httpx.AsyncClient) -> None:
    issued = await dev_client.post(
        DEV_TOKEN, json={"sub": "dev-admin", "roles": ["admin"], "name": "Dev", "ttl_seconds": 60}
    )

    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 60
    admin = await dev_client.get(ADMIN, headers=bearer(body["access_token"]))
    assert admin.status_code == 200, admin.text
    assert admin.json() == {"admin": "dev-admin"}


@pytest.mark.parametrize(
    "payload",
    [
        {"sub": "x", "ttl_seconds": 86_401},
        {"sub": "x", "ttl_seconds": 0},
        {"sub": ""},
        {"roles": ["admin"]},
        {"sub": "x", "roles": "admin"},
        {"sub": "x", "extra": True},
    ],
)
async def test_dev_token_requests_are_validated(
    dev_client: httpx.AsyncClient, payload: dict[str, object]
) -> None:
    response = await dev_client.post(DEV_TOKEN, json=payload)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_dev_mode_still_checks_dev_token_claims(dev_client: httpx.AsyncClient) -> None:
    wrong_secret = handmade(
        {"alg": "HS256", "typ": "JWT"}, claims(), b"some-other-secret-0123456789abcdef"
    )
    wrong_audience = handmade({"alg": "HS256"}, claims(aud="elsewhere"), DEV_SECRET.encode())

    for token, reason in (
        (wrong_secret, "invalid signature"),
        (wrong_audience, "invalid audience"),
    ):
        response = await dev_client.get(ME, headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["detail"] == reason


async def test_a_dev_token_is_refused_by_a_production_app(
    dev_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    issued = await dev_client.post(DEV_TOKEN, json={"sub": "dev", "roles": ["admin"]})
    token = issued.json()["access_token"]

    response = await client.get(ADMIN, headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["detail"] == "unsupported token algorithm"


async def test_a_verified_token_is_reused_until_its_expiry_or_the_cache_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[str] = []
    real_decode = jwt.decode

    def counted_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        checks.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted_decode)
    secret = "cache-test-secret-" + "x" * 32
    clock = [time.time()]
    verifier = TokenVerifier(
        issuer="iss",
        audience="aud",
        leeway_seconds=0,
        jwks=None,
        dev_secret=secret,
        clock=lambda: clock[0],
    )

    def dev_token(ttl: int) -> str:
        now = int(clock[0])
        claims = {"sub": "ana", "iss": "iss", "aud": "aud", "iat": now, "exp": now + ttl}
        return jwt.encode(claims, secret, algorithm="HS256")

    short, long = dev_token(30), dev_token(3600)
    start = clock[0]
    first = await verifier.verify(short)
    assert await verifier.verify(short) is first and checks == [short]

    clock[0] = start + 31  # past its exp: checked again (jwt then judges it by real time)
    await verifier.verify(short)
    assert checks == [short, short]

    await verifier.verify(long)
    clock[0] = start + 31 + CACHE_SECONDS - 1
    await verifier.verify(long)
    assert checks == [short, short, long]
    clock[0] = start + 31 + CACHE_SECONDS + 1  # reused for at most CACHE_SECONDS
    await verifier.verify(long)
    assert checks == [short, short, long, long]

"""Fixtures of the HTTP kit tests: signing keys, a live JWKS server, a demo app and client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from http_kit_support import (
    Demo,
    JwksServer,
    SigningKey,
    ec_key,
    make_app,
    make_config,
    rsa_key,
    serve,
)


@pytest.fixture(scope="session")
def rsa1() -> SigningKey:
    return rsa_key("rsa-1")


@pytest.fixture(scope="session")
def rsa2() -> SigningKey:
    return rsa_key("rsa-2")


@pytest.fixture(scope="session")
def ec1() -> SigningKey:
    return ec_key("ec-1")


@pytest.fixture(scope="session")
def intruder() -> SigningKey:
    """Never published: a token it signs claims a published kid but is forged."""
    return rsa_key("rsa-1")


@pytest.fixture
def jwks(rsa1: SigningKey, ec1: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer()
    server.serve(rsa1, ec1)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def demo() -> Demo:
    return Demo()


@pytest.fixture
async def client(jwks: JwksServer, demo: Demo) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(make_app(make_config(jwks.url), demo)) as client:
        yield client

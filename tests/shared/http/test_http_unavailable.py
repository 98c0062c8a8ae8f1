"""A backing store or index that is down answers 503 problem+json with Retry-After, never 500.

The fault-injection tests (tests/reliability) see the same through the real services when
they stop FerretDB or OpenSearch; these pin the mapping itself, from a route and from a
middleware (outside the routes' exception handlers).
"""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from http_kit_support import make_config, serve
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http import create_app
from shared.search.errors import SearchUnavailable
from shared.store.errors import StoreError, StoreUnavailable


def _app(error: Exception) -> FastAPI:
    router = APIRouter(prefix="/api/v1/x")

    @router.get("/down")
    async def down() -> dict[str, str]:
        raise error

    return create_app(
        make_config("http://127.0.0.1:9/jwks"), title="t", version="0", routers=[router]
    )


@pytest.mark.parametrize(
    "error", [StoreUnavailable("connection refused"), SearchUnavailable("no node")]
)
async def test_a_dependency_down_in_a_route_is_503_problem(error: Exception) -> None:
    async with serve(_app(error)) as client:
        response = await client.get("/api/v1/x/down")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["type"].endswith("dependency-unavailable")
    assert "connection refused" not in response.text and "no node" not in response.text


async def test_any_other_store_error_is_still_a_500_not_a_503() -> None:
    async with serve(_app(StoreError("bug"))) as client:
        response = await client.get("/api/v1/x/down")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_dependency_down_in_a_middleware_is_503_problem() -> None:
    app = _app(RuntimeError("unused"))

    class StoreBackedMiddleware:  # like the rate limiter or the idempotency layer
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                raise StoreUnavailable("server selection timed out")
            await self.inner(scope, receive, send)

    # Inside the kit's layer (as the app's own middleware would be), not around it.
    app.user_middleware.append(Middleware(StoreBackedMiddleware))
    async with serve(app) as client:
        response = await client.get("/api/v1/x/down")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"

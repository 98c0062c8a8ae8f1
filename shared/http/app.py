"""`create_app`: one FastAPI app with the kit's middleware, errors, probes and auth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, TypeAlias

import httpx
import structlog
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from shared.http.auth.dev import DevTokenSigner, dev_token_router
from shared.http.auth.jwks import JwksCache
from shared.http.auth.verifier import TokenVerifier
from shared.http.config import HttpConfig
from shared.http.errors import install_exception_handlers
from shared.http.front import FrontRoute
from shared.http.health import Readiness, ReadinessCheck, health_router
from shared.http.metrics import HttpMetrics, metrics_router, new_registry
from shared.http.middleware import KitMiddleware
from shared.http.pagination import CursorCodec
from shared.http.ratelimit import RateLimiter

log = structlog.get_logger(__name__)

Lifespan: TypeAlias = Callable[[FastAPI], AbstractAsyncContextManager[Mapping[str, Any] | None]]

_CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_CORS_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Request-ID",
    "traceparent",
    "Idempotency-Key",
    "If-None-Match",
)
_CORS_EXPOSE = ("X-Request-ID", "WWW-Authenticate", "Location", "ETag", "Idempotent-Replayed")
_GZIP_MIN_BYTES = 1024
# zlib's default: level 9 costs ~30% more CPU per page for a few percent smaller JSON.
_GZIP_LEVEL = 6


def combine_lifespans(*lifespans: Lifespan) -> Lifespan:
    """Run several services' lifespans as one (entered in order, closed in reverse)."""

    @asynccontextmanager
    async def combined(app: FastAPI) -> AsyncIterator[Mapping[str, Any] | None]:
        state: dict[str, Any] = {}
        async with AsyncExitStack() as stack:
            for lifespan in lifespans:
                part = await stack.enter_async_context(lifespan(app))
                clash = state.keys() & dict(part or {}).keys()
                if clash:
                    raise ValueError(f"lifespan state keys clash: {sorted(clash)}")
                state.update(part or {})
            yield state or None

    return combined


def create_app(
    config: HttpConfig,
    *,
    title: str,
    version: str,
    routers: Sequence[APIRouter],
    lifespan: Lifespan | None = None,
    readiness: Sequence[ReadinessCheck] = (),
    metrics_registry: CollectorRegistry | None = None,
    fronts: Sequence[FrontRoute] = (),
) -> FastAPI:
    """Build a service app; routers from several services may share one app (all-in-one).

    `fronts`: answers the services keep, given before routing (see `front.py`).

    `lifespan` opens the service's clients and may yield state (read via `request.state`)
    and register more readiness checks with `get_readiness(app).add(...)`.
    """

    # Typed Any: Starlette accepts a state mapping or None, but its stubs want one or the other.
    @asynccontextmanager
    async def kit_lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with AsyncExitStack() as stack:
            jwks = None
            if config.auth.jwks_url is not None:
                client = await stack.enter_async_context(
                    httpx.AsyncClient(timeout=config.auth.jwks_timeout_seconds)
                )
                jwks = JwksCache(
                    client,
                    config.auth.jwks_url,
                    ttl_seconds=config.auth.jwks_cache_ttl_seconds,
                    min_refresh_seconds=config.auth.jwks_min_refresh_seconds,
                )
            app.state.token_verifier = TokenVerifier(
                issuer=config.auth.issuer,
                audience=config.auth.audience,
                leeway_seconds=config.auth.leeway_seconds,
                jwks=jwks,
                dev_secret=config.dev_secret,
            )
            state = await stack.enter_async_context(lifespan(app)) if lifespan else None
            log.info("http.app.started", service=config.service, dev_mode=config.dev_mode)
            yield state
            log.info("http.app.stopping", service=config.service)

    # No default_response_class: ORJSONResponse is deprecated (FastAPI 0.165 here) because
    # routes with a return type are serialized by pydantic-core straight to JSON bytes,
    # which is faster. Problem responses are rendered with orjson (see problems.py).
    app = FastAPI(
        title=title,
        version=version,
        lifespan=kit_lifespan,
        # The schema and docs are a development aid; production serves neither.
        openapi_url="/openapi.json" if config.dev_mode else None,
    )
    # The caller may own the registry so that its other collectors (the bus) share /metrics.
    registry = metrics_registry if metrics_registry is not None else new_registry()
    app.state.metrics_registry = registry
    app.state.readiness = Readiness(readiness, timeout_seconds=config.readiness_timeout_seconds)
    app.state.cursor_codec = CursorCodec(config.cursor_secret)
    app.state.rate_limiter = RateLimiter(multiplier=config.rate_limit_multiplier)

    app.include_router(health_router)
    app.include_router(metrics_router)
    for router in routers:
        app.include_router(router)
    if config.dev_secret is not None:
        signer = DevTokenSigner(
            secret=config.dev_secret, issuer=config.auth.issuer, audience=config.auth.audience
        )
        app.include_router(dev_token_router(signer))

    install_exception_handlers(app)
    # One pure-ASGI layer for the whole stack: see KitMiddleware for the order it keeps.
    app.add_middleware(
        KitMiddleware,
        service=config.service,
        metrics=HttpMetrics(registry),
        max_body_bytes=config.max_body_bytes,
        gzip_min_bytes=_GZIP_MIN_BYTES,
        gzip_level=_GZIP_LEVEL,
        cors_origins=config.cors_origins,
        cors_allow_credentials=config.cors_allow_credentials,
        cors_methods=_CORS_METHODS,
        cors_headers=_CORS_HEADERS,
        cors_expose_headers=_CORS_EXPOSE,
        fronts=fronts,
    )
    return app

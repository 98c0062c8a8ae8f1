"""Prometheus metrics with one registry per app, so several apps can share a process."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.responses import Response

UNMATCHED_ROUTE = "<unmatched>"


class HttpMetrics:
    """Request counters keyed by route template, never by raw path (bounded cardinality)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "http_requests",
            "HTTP requests handled, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration, by method and route template.",
            ["method", "route"],
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)


def new_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


def get_metrics_registry(app: FastAPI) -> CollectorRegistry:
    """The app's registry; services register extra collectors (e.g. consumer lag) on it."""
    registry = app.state.metrics_registry
    assert isinstance(registry, CollectorRegistry)
    return registry


metrics_router = APIRouter(tags=["ops"])


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus scrape endpoint."""
    body = generate_latest(get_metrics_registry(request.app))
    return Response(body, media_type=CONTENT_TYPE_LATEST)

"""Probes, metrics, correlation ids, unexpected errors, CORS and compression."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import APIRouter, FastAPI
from http_kit_support import ALLOWED_ORIGIN, JwksServer, make_app, make_config, serve
from prometheus_client import Gauge

from shared.http import (
    Lifespan,
    ReadinessCheck,
    combine_lifespans,
    create_app,
    get_metrics_registry,
    get_readiness,
)

HEX32 = re.compile(r"[0-9a-f]{32}")


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def ok() -> None:
    return None


async def broken() -> None:
    raise ConnectionError("kafka:9092 refused")


async def test_readyz_reports_each_check(jwks: JwksServer) -> None:
    app = make_app(make_config(jwks.url), readiness=[ReadinessCheck("store", ok)])
    async with serve(app) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"store": {"status": "ok"}}}


async def test_readyz_is_a_503_problem_naming_the_failed_check(jwks: JwksServer) -> None:
    checks = [ReadinessCheck("store", ok), ReadinessCheck("bus", broken)]
    async with serve(make_app(make_config(jwks.url), readiness=checks)) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == "failed readiness checks: bus"
    assert body["checks"] == {
        "store": {"status": "ok"},
        "bus": {"status": "failed", "reason": "ConnectionError: kafka:9092 refused"},
    }
    assert "Traceback" not in response.text


async def test_a_hanging_check_times_out(jwks: JwksServer) -> None:
    never = asyncio.Event()

    async def hangs() -> None:
        await never.wait()

    config = make_config(jwks.url, readiness_timeout_seconds=0.05)
    async with serve(make_app(config, readiness=[ReadinessCheck("search", hangs)])) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["search"] == {
        "status": "failed",
        "reason": "timed out after 0.05s",
    }


async def test_a_lifespan_registers_checks_and_collectors(jwks: JwksServer) -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        get_readiness(app).add(ReadinessCheck("consumer", broken))
        lag = Gauge("consumer_lag", "Events behind.", registry=get_metrics_registry(app))
        lag.set(42)
        yield

    async with serve(make_app(make_config(jwks.url), lifespan=lifespan)) as client:
        ready = await client.get("/readyz")
        metrics = await client.get("/metrics")

    assert ready.status_code == 503
    assert "consumer" in ready.json()["checks"]
    assert "consumer_lag 42.0" in metrics.text


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/demo/items")
    await client.get("/api/v1/demo/items", params={"limit": "500"})
    await client.get("/no/such/thing")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'http_requests_total{method="GET",route="/api/v1/demo/items",status="200"} 1.0' in text
    assert 'http_requests_total{method="GET",route="/api/v1/demo/items",status="422"} 1.0' in text
    assert 'http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text
    assert "/no/such/thing" not in text
    assert "http_request_duration_seconds_bucket" in text


async def test_apps_in_one_process_keep_separate_metrics(jwks: JwksServer) -> None:
    first, second = make_app(make_config(jwks.url)), make_app(make_config(jwks.url))
    async with serve(first) as one, serve(second) as two:
        await one.get("/healthz")
        text = (await two.get("/metrics")).text

    assert 'route="/healthz"' not in text


async def test_a_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "req-42.abc:1"})

    assert response.headers["x-request-id"] == "req-42.abc:1"


async def test_an_insane_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    for bad in ("x" * 200, "a b", "<script>"):
        response = await client.get("/healthz", headers={"X-Request-ID": bad})
        assert HEX32.fullmatch(response.headers["x-request-id"])


async def test_ids_are_bound_for_the_request_and_cleared_after(
    client: httpx.AsyncClient,
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"

    response = await client.get(
        "/api/v1/demo/context", headers={"traceparent": traceparent, "X-Request-ID": "r-1"}
    )

    assert response.json() == {"service": "demo", "request_id": "r-1", "trace_id": trace_id}
    assert structlog.contextvars.get_contextvars() == {}


async def test_an_invalid_traceparent_gets_a_fresh_trace_id(client: httpx.AsyncClient) -> None:
    for bad in (
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "garbage",
    ):
        response = await client.get("/api/v1/demo/context", headers={"traceparent": bad})
        trace_id = response.json()["trace_id"]
        assert HEX32.fullmatch(trace_id)
        assert trace_id not in bad


async def test_each_request_logs_one_completed_line(client: httpx.AsyncClient) -> None:
    with structlog.testing.capture_logs() as logs:
        await client.get("/api/v1/demo/items", params={"limit": "3"})

    completed = [e for e in logs if e["event"] == "http.request.completed"]
    assert len(completed) == 1
    line = completed[0]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/demo/items"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)


async def test_an_unexpected_error_is_a_generic_500_problem(client: httpx.AsyncClient) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.get(
            "/api/v1/demo/boom", headers={"X-Request-ID": "boom-1", "Origin": ALLOWED_ORIGIN}
        )

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["request_id"] == "boom-1"
    assert body["type"] == "urn:canteen:problem:internal-error"
    for leak in ("Traceback", "RuntimeError", "hunter2", "mongodb://", 'File "'):
        assert leak not in response.text
    # Browsers can read the error because CORS headers wrap it too.
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    failed = [e for e in logs if e["event"] == "http.request.failed"]
    assert failed and failed[0]["exc_info"] is True
    completed = [e for e in logs if e["event"] == "http.request.completed"]
    assert completed[0]["status"] == 500


async def test_a_preflight_from_an_allowed_origin_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options(
        "/api/v1/demo/notes",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v1/demo/notes",
        headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "access-control-allow-origin" not in response.headers
    assert response.json()["type"] == "urn:canteen:problem:cors-rejected"


async def test_simple_requests_only_get_cors_headers_for_allowed_origins(
    client: httpx.AsyncClient,
) -> None:
    allowed = await client.get("/healthz", headers={"Origin": ALLOWED_ORIGIN})
    other = await client.get("/healthz", headers={"Origin": "https://evil.test"})

    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers


async def test_large_responses_are_gzipped(client: httpx.AsyncClient) -> None:
    compressed = await client.get("/api/v1/demo/big", headers={"Accept-Encoding": "gzip"})
    small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})

    assert compressed.headers["content-encoding"] == "gzip"
    assert int(compressed.headers["content-length"]) < len(compressed.content) / 10
    assert compressed.json()["words"][0] == "canteen"
    assert "content-encoding" not in small.headers


async def test_several_services_share_one_app(jwks: JwksServer) -> None:
    opened: list[str] = []

    def service(name: str) -> tuple[APIRouter, Lifespan]:
        router = APIRouter(prefix=f"/api/v1/{name}")

        @router.get("/ping")
        async def ping() -> dict[str, str]:
            return {"service": name}

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
            opened.append(name)
            get_readiness(app).add(ReadinessCheck(f"{name}-store", ok))
            yield {f"{name}_client": name}
            opened.remove(name)

        return router, lifespan

    (activity, activity_life), (profiles, profiles_life) = service("activity"), service("profiles")
    app = create_app(
        make_config(jwks.url, service="canteen"),
        title="canteen",
        version="0.0.1",
        routers=[activity, profiles],
        lifespan=combine_lifespans(activity_life, profiles_life),
    )
    async with serve(app) as client:
        assert opened == ["activity", "profiles"]
        assert (await client.get("/api/v1/activity/ping")).json() == {"service": "activity"}
        assert (await client.get("/api/v1/profiles/ping")).json() == {"service": "profiles"}
        ready = await client.get("/readyz")
        assert set(ready.json()["checks"]) == {"activity-store", "profiles-store"}
        assert (await client.get("/healthz")).status_code == 200

    assert opened == []

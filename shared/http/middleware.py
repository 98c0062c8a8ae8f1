"""Pure ASGI middleware of the kit (no BaseHTTPMiddleware: it breaks contextvars)."""

from __future__ import annotations

import time

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.context import (
    REQUEST_ID_HEADER,
    REQUEST_ID_SCOPE_KEY,
    TRACE_ID_SCOPE_KEY,
    request_id_from,
    request_id_of,
    trace_id_from,
)
from shared.http.errors import generic_server_error
from shared.http.metrics import UNMATCHED_ROUTE, HttpMetrics
from shared.http.problems import Problem, problem_response, problem_type

log = structlog.get_logger(__name__)

# Probes hit every few seconds; their access lines would drown the useful ones.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def route_template(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Assigns ids, binds them to the log context, and records one access line + metric."""

    def __init__(self, app: ASGIApp, *, service: str, metrics: HttpMetrics) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = request_id_from(headers.get(REQUEST_ID_HEADER))
        trace_id = trace_id_from(headers.get("traceparent"))
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        scope[TRACE_ID_SCOPE_KEY] = trace_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            service=self.service, request_id=request_id, trace_id=trace_id
        )
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe(scope["method"], route, status, duration)
            emit = log.debug if scope["path"] in _QUIET_PATHS else log.info
            emit(
                "http.request.completed",
                method=scope["method"],
                route=route,
                path=scope["path"],
                status=status,
                duration_ms=round(duration * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


class UnhandledErrorMiddleware:
    """Turns a bug into a generic 500 problem inside the CORS layer, so browsers can read it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            # The traceback goes to the server log only; the client gets the request id.
            log.exception("http.request.failed", method=scope["method"], path=scope["path"])
            if response_started:
                raise
            response = generic_server_error(request_id_of(scope), scope["path"])
            await response(scope, receive, send)


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "Content Too Large",
            type=problem_type("body-too-large"),
            detail=f"The request body exceeds the limit of {limit} bytes.",
        )


class BodyLimitMiddleware:
    """Rejects bodies over the limit: by Content-Length up front, by counting when chunked."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI re-raises HTTPException subclasses from body parsing, so
                    # this reaches the Problem handler before the endpoint runs.
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = BodyTooLarge(self.limit)
        response = problem_response(
            exc.status,
            title=exc.title,
            type=exc.type,
            detail=exc.problem_detail,
            instance=scope["path"],
            request_id=request_id_of(scope),
            # The unread body makes the connection unusable for a next request.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, with rejected preflights answered as problem+json."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in {"content-type", "content-length"}
        }
        return problem_response(
            response.status_code,
            title="CORS preflight rejected",
            type=problem_type("cors-rejected"),
            detail=bytes(response.body).decode(),
            headers=kept,
        )

"""Pure ASGI middleware of the kit, as one layer (no BaseHTTPMiddleware: it breaks contextvars).

`KitMiddleware` reads the request headers once and then takes the shortest path: CORS only
when the request carries an `Origin`, gzip only when it accepts gzip, a counting `receive`
only when the body is chunked. A plain request (no Origin, no gzip, no body) thus costs one
header scan, one `send` wrapper and the access line; the headers those layers would have
added to it (`Vary: Accept-Encoding, Origin`) are added by the wrapper.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog
from prometheus_client.metrics import Counter, Histogram
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.context import (
    REQUEST_ID_SCOPE_KEY,
    TRACE_ID_SCOPE_KEY,
    request_id_from,
    request_id_of,
    trace_id_from,
)
from shared.http.errors import generic_server_error, unavailable_response
from shared.http.front import FRONT_ROUTE_KEY, FrontRoute, FrontRoutes
from shared.http.metrics import UNMATCHED_ROUTE, HttpMetrics
from shared.http.problems import Problem, problem_response, problem_type
from shared.unavailable import DependencyUnavailable

log = structlog.get_logger(__name__)

# Probes hit every few seconds; their access lines would drown the useful ones.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# The declared request body length (None: no Content-Length), read once by KitMiddleware.
_BODY_LENGTH_KEY = "canteen.body_length"
_CHUNKED_KEY = "canteen.body_chunked"
# Methods whose requests carry no body unless they say so (Content-Length or chunked).
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_VARY_PLAIN = (b"Accept-Encoding", b"Origin")
_VARY_GZIP = (b"Origin",)
_VARY_CORS = (b"Accept-Encoding",)


def route_template(scope: Scope) -> str:
    path = scope.get(FRONT_ROUTE_KEY) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def _add_vary(headers: list[tuple[bytes, bytes]], tokens: Sequence[bytes]) -> None:
    """Merge `tokens` into one Vary header (as Starlette's CORS and gzip layers do)."""
    values: list[bytes] = []
    kept = []
    for name, value in headers:
        if name.lower() == b"vary":
            values.append(value)
        else:
            kept.append((name, value))
    if values:
        present = {v.strip().lower() for value in values for v in value.split(b",")}
        missing = [t for t in tokens if t.lower() not in present]
        headers[:] = kept
        headers.append((b"vary", b", ".join([*values, *missing])))
    else:
        headers.append((b"vary", b", ".join(tokens)))


class _Metrics:
    """Prometheus children cached per label set: `labels()` takes a lock and builds a key."""

    def __init__(self, metrics: HttpMetrics) -> None:
        self._metrics = metrics
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._metrics.requests.labels(method, route, str(status)),
                self._metrics.duration.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


# An API answers JSON only: nothing may sniff, frame, embed or cache it by default. Routes
# that want caching (feeds with ETags) set their own Cache-Control, which is kept.
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-site"),
)
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_NO_STORE = (b"cache-control", b"no-store")
# The dev-mode API explorer loads its scripts and styles: a strict CSP would blank it.
_EXPLORER_PATHS = ("/docs", "/redoc")


def _secure(headers: list[tuple[bytes, bytes]], path: str) -> None:
    if not any(name.lower() == b"cache-control" for name, _ in headers):
        headers.append(_NO_STORE)
    headers.extend(_SECURITY_HEADERS)
    if not path.startswith(_EXPLORER_PATHS):
        headers.append(_API_CSP)


class KitMiddleware:
    """Ids, log context, access line and metric; then CORS, gzip, error and body guards.

    The order of the layers is the one the kit always had, outermost first: request
    context, CORS, gzip, unhandled errors, body limit — so a 500 or 413 problem still gets
    the CORS headers a browser needs to read it, and the request id. Kept answers of
    services (`front.py`) sit between gzip and the guards.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        metrics: HttpMetrics,
        max_body_bytes: int,
        gzip_min_bytes: int,
        gzip_level: int,
        cors_origins: Sequence[str],
        cors_allow_credentials: bool,
        cors_methods: Sequence[str],
        cors_headers: Sequence[str],
        cors_expose_headers: Sequence[str],
        fronts: Sequence[FrontRoute] = (),
    ) -> None:
        self.app = app
        self.service = service
        self._metrics = _Metrics(metrics)
        guarded: ASGIApp = _Guard(app, max_body_bytes)
        if fronts:  # inside CORS and gzip, so kept answers get both like any other
            guarded = FrontRoutes(guarded, fronts)
        zipped = GZipMiddleware(guarded, minimum_size=gzip_min_bytes, compresslevel=gzip_level)

        def cors(inner: ASGIApp) -> ProblemCORSMiddleware:
            return ProblemCORSMiddleware(
                inner,
                allow_origins=cors_origins,
                allow_credentials=cors_allow_credentials,
                allow_methods=cors_methods,
                allow_headers=cors_headers,
                expose_headers=cors_expose_headers,
            )

        # (has Origin, accepts gzip) -> the layers that request needs, and the Vary tokens
        # of the layers it skips.
        self._paths: dict[tuple[bool, bool], tuple[ASGIApp, tuple[bytes, ...]]] = {
            (False, False): (guarded, _VARY_PLAIN),
            (False, True): (zipped, _VARY_GZIP),
            (True, False): (cors(guarded), _VARY_CORS),
            (True, True): (cors(zipped), ()),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming_id = traceparent = None
        has_origin = gzip = chunked = False
        length: int | None = None
        for name, value in scope["headers"]:
            # ASGI servers give lower-case names; one pass, no Headers object.
            if name == b"x-request-id":
                incoming_id = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"origin":
                has_origin = True
            elif name == b"accept-encoding":
                gzip = gzip or b"gzip" in value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                chunked = True
        request_id = request_id_from(incoming_id)
        trace_id = trace_id_from(traceparent)
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        scope[TRACE_ID_SCOPE_KEY] = trace_id
        scope[_BODY_LENGTH_KEY] = length
        scope[_CHUNKED_KEY] = chunked
        inner, vary = self._paths[has_origin, gzip]
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
                if not isinstance(headers, list):
                    headers = message["headers"] = list(headers or ())
                headers.append(id_header)
                _secure(headers, scope["path"])
                if vary:
                    _add_vary(headers, vary)
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            service=self.service, request_id=request_id, trace_id=trace_id
        )
        started = time.perf_counter()
        try:
            await inner(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            method, path = scope["method"], scope["path"]
            self._metrics.observe(method, route, status, duration)
            emit = log.debug if path in _QUIET_PATHS else log.info
            emit(
                "http.request.completed",
                method=method,
                route=route,
                path=path,
                status=status,
                duration_ms=round(duration * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


MAX_PATH_CHARS = 1024
MAX_QUERY_BYTES = 8192


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "Content Too Large",
            type=problem_type("body-too-large"),
            detail=f"The request body exceeds the limit of {limit} bytes.",
        )


class _Guard:
    """Turns a bug into a generic 500 problem and an oversize body into 413.

    Inside the CORS layer, so browsers can read either. Bodies are refused by
    Content-Length up front, and counted only when there is no Content-Length to trust
    (a chunked body); a request with neither has no body (RFC 9112 §6.3).
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        # SCIM answers its own errors (application/scim+json) and validates its filters.
        if not path.startswith("/scim/") and (
            len(path) > MAX_PATH_CHARS or len(scope.get("query_string", b"")) > MAX_QUERY_BYTES
        ):
            # Before routing: no id or filter is this long, and a huge one costs every layer.
            too_long = problem_response(
                414,
                title="URI Too Long",
                type=problem_type("uri-too-long"),
                detail=f"paths are limited to {MAX_PATH_CHARS} characters and query "
                f"strings to {MAX_QUERY_BYTES} bytes",
                request_id=request_id_of(scope),
            )
            await too_long(scope, receive, send)
            return
        declared = scope.get(_BODY_LENGTH_KEY)
        if declared is not None and declared > self.limit:
            await self._reject(scope, receive, send)
            return
        if declared is None and (scope.get(_CHUNKED_KEY, True) or scope["method"] not in _BODYLESS):
            receive = self._counting(receive)
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._reject(scope, receive, send)
        except DependencyUnavailable as exc:
            # From a middleware or dependency outside the routes' exception handlers.
            log.warning("http.request.unavailable", path=scope["path"], reason=str(exc)[:200])
            if response_started:
                raise
            response = unavailable_response(request_id_of(scope), scope["path"])
            await response(scope, receive, send)
        except Exception:
            # The traceback goes to the server log only; the client gets the request id.
            log.exception("http.request.failed", method=scope["method"], path=scope["path"])
            if response_started:
                raise
            response = generic_server_error(request_id_of(scope), scope["path"])
            await response(scope, receive, send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0
        limit = self.limit

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPException subclasses from body parsing, so
                    # this reaches the Problem handler before the endpoint runs.
                    raise BodyTooLarge(limit)
            return message

        return counting_receive

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

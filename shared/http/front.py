"""Answers a service keeps in memory, given before routing.

A service may keep whole responses of some GET routes (activity keeps rendered feed pages
until its store changes). Served through FastAPI, a kept answer still pays for routing
past every other route, dependency resolution and the framework's layers: several times
the cost of the answer itself. A `FrontRoute` gives it inside the kit's middleware
instead, for one exact path, only to a bearer token that the same verifier and gate
accept as `PrincipalDep` would, and only when the service has the answer at hand.
Anything else — no token, a refused one, a query parameter the front does not know, an
answer not kept, an error — goes on to the route, which answers as it always does
(problems included). The access line, metrics, security headers, CORS and gzip are the
kit's, as for any other answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi.security.utils import get_authorization_scheme_param
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.auth.principal import Principal
from shared.http.auth.verifier import TokenVerifier
from shared.http.pagination import (
    DEFAULT_LIMIT,
    MAX_CURSOR_CHARS,
    MAX_LIMIT,
    CursorCodec,
    PageParams,
)

log = structlog.get_logger(__name__)

# Set on the scope when a front answered: the route template for metrics and the log.
FRONT_ROUTE_KEY = "canteen.front_route"
# Routes that take If-None-Match declare it with this limit (longer: 422).
MAX_IF_NONE_MATCH_CHARS = 2048


@dataclass(frozen=True, slots=True)
class FrontRequest:
    principal: Principal
    query: Mapping[str, str]  # each parameter once (a repeated one never reaches a front)
    if_none_match: str | None
    state: Any  # the app's state: cursor codec, token verifier

    def page(self) -> PageParams | None:
        """The page `PageDep` would give, or None where it would refuse (then the route
        answers with its problem)."""
        if not self.query.keys() <= {"limit", "cursor"}:
            return None
        limit_text = self.query.get("limit")
        if limit_text is None:
            limit = DEFAULT_LIMIT
        elif limit_text.isascii() and limit_text.isdigit() and 1 <= int(limit_text) <= MAX_LIMIT:
            limit = int(limit_text)
        else:
            return None
        codec: CursorCodec = self.state.cursor_codec
        cursor = self.query.get("cursor")
        if cursor and len(cursor) > MAX_CURSOR_CHARS:
            return None
        try:
            after = codec.decode(cursor) if cursor else None
        except Exception:
            return None
        return PageParams(limit=limit, after=after, codec=codec)


# The answer, or None to let the route answer.
Answer = Callable[[FrontRequest], Awaitable[Response | None]]


@dataclass(frozen=True, slots=True)
class FrontRoute:
    path: str  # exact, as routed (e.g. /api/v1/feeds/home); GET only
    answer: Answer


class FrontRoutes:
    """The ASGI layer: a GET on a front's path is offered to it first."""

    def __init__(self, app: ASGIApp, routes: Sequence[FrontRoute]) -> None:
        self.app = app
        self._routes = {route.path: route for route in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._routes.get(scope["path"]) if scope["method"] == "GET" else None
        response = await self._answer(route, scope) if route is not None else None
        if response is None:
            await self.app(scope, receive, send)
            return
        scope[FRONT_ROUTE_KEY] = scope["path"]
        await response(scope, receive, send)

    async def _answer(self, route: FrontRoute, scope: Scope) -> Response | None:
        authorization = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is not None:
                    return None
                authorization = value.decode("latin-1")
            elif name == b"if-none-match" and if_none_match is None:  # the first, as routes
                if_none_match = value.decode("latin-1")
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        query = dict(pairs)
        if authorization is None or len(query) != len(pairs):
            return None
        if if_none_match is not None and len(if_none_match) > MAX_IF_NONE_MATCH_CHARS:
            return None  # the route refuses it (422)
        state = scope["app"].state
        try:
            principal = await _principal(state, authorization)
            if principal is None:
                return None
            structlog.contextvars.bind_contextvars(user_id=principal.user_id)
            return await route.answer(FrontRequest(principal, query, if_none_match, state))
        except Exception as exc:  # the route will answer, and report what is wrong
            log.warning("http.front.failed", path=route.path, error=type(exc).__name__)
            return None


async def _principal(state: Any, authorization: str) -> Principal | None:
    """The principal `PrincipalDep` would give for this header, or None if it would not."""
    scheme, token = get_authorization_scheme_param(authorization)
    verifier = getattr(state, "token_verifier", None)
    if scheme.lower() != "bearer" or not token or not isinstance(verifier, TokenVerifier):
        return None
    try:
        principal = await verifier.verify(token)
        gate = getattr(state, "principal_gate", None)
        if gate is not None and not await gate.allows(principal):
            return None
    except Exception:  # refused or unavailable: the route says which, as a problem
        return None
    return principal

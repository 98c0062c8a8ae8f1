"""Per-request correlation ids: X-Request-ID and the W3C trace context."""

from __future__ import annotations

import random
import re

from starlette.requests import HTTPConnection
from starlette.types import Scope

REQUEST_ID_HEADER = "x-request-id"
# Stored in the ASGI scope so exception handlers and routes can read it back.
REQUEST_ID_SCOPE_KEY = "canteen.request_id"
TRACE_ID_SCOPE_KEY = "canteen.trace_id"

# Ids land in logs and headers, so anything outside this alphabet is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# https://www.w3.org/TR/trace-context/#traceparent-header-field-values
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?:-.*)?"
)


def _random_hex128() -> str:
    # Correlation ids, not secrets: the interpreter's PRNG (re-seeded in forked children)
    # instead of two getrandom() system calls per request.
    return f"{random.getrandbits(128) or 1:032x}"


def new_request_id() -> str:
    return _random_hex128()


def request_id_from(incoming: str | None) -> str:
    """Keep a caller's id when it is sane so logs correlate across hops."""
    if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return new_request_id()


def trace_id_from(traceparent: str | None) -> str:
    """The trace id of a valid `traceparent`, else a fresh one."""
    if traceparent is not None:
        value = traceparent.strip()
        match = _TRACEPARENT.fullmatch(value)
        # Version 00 has no trailing fields; "ff" and all-zero ids are invalid by spec.
        if (
            match is not None
            and match["version"] != "ff"
            and (match["version"] != "00" or len(value) == 55)
            and match["trace_id"] != "0" * 32
            and match["parent_id"] != "0" * 16
        ):
            return match["trace_id"]
    return _random_hex128()


def request_id_of(conn: HTTPConnection | Scope) -> str | None:
    """The request id the middleware assigned, for problem bodies and logs."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    value = scope.get(REQUEST_ID_SCOPE_KEY)
    return value if isinstance(value, str) else None

"""Idempotency-Key for POST routes: a retried request returns the first response, once.

A service opts in per router: `APIRouter(route_class=idempotent_route_class(collection))`,
with a collection of its OWN store (the all-in-one process has four stores), and runs
`prepare_idempotency(collection)` as a set-up step (the 24 h expiry index).

The key is scoped to the verified principal (never to an unverified token: a forged token
must not read someone else's cached response) and bound to a fingerprint of the request
(method, path, query, body). Only 2xx responses are stored: a failed request may be
retried for real. A duplicate that arrives while the first is still running gets 409.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.routing import APIRoute

from shared.http.auth.deps import get_token_verifier
from shared.http.auth.jwks import KeysUnavailable
from shared.http.auth.principal import Principal
from shared.http.auth.verifier import InvalidToken
from shared.http.problems import BadRequest, Conflict, Unprocessable, problem_type
from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection

log = structlog.get_logger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL_SECONDS = 24 * 3600
# A request still "in flight" after this long died with its process: a retry may take over.
IN_FLIGHT_TIMEOUT_SECONDS = 60
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_REPLAYED_HEADERS = ("content-type", "location", "etag", "content-location")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


async def prepare_idempotency(records: Collection) -> None:
    """The expiry index: records vanish 24 h after the first request."""
    await records.create_index([("created_at", 1)], expire_after_seconds=TTL_SECONDS)


def idempotent_route_class(records: Collection) -> type[APIRoute]:
    """An `APIRoute` class whose POST routes honour `Idempotency-Key` using `records`."""

    class IdempotentRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            original: Handler = super().get_route_handler()
            if "POST" not in (self.methods or ()):
                return original

            async def handler(request: Request) -> Response:
                key = request.headers.get(HEADER)
                if key is None:
                    return await original(request)
                return await _idempotent(records, original, request, key)

            return handler

    return IdempotentRoute


async def _idempotent(
    records: Collection, original: Handler, request: Request, key: str
) -> Response:
    if not _KEY.match(key):
        raise BadRequest(
            f"{HEADER} must be 1-200 visible ASCII characters",
            type=problem_type("invalid-idempotency-key"),
        )
    principal = await _verified_principal(request)
    if principal is None:
        # Unauthenticated: the route's own auth dependency answers 401; nothing is keyed.
        return await original(request)
    record_id = _record_id(principal.user_id, key)
    fingerprint = _fingerprint(request, await request.body())
    replay = await _claim(records, record_id, fingerprint)
    if replay is not None:
        log.info("http.idempotency.replayed", path=request.url.path)
        return replay
    try:
        response = await original(request)
    except BaseException:
        await records.delete_one({"_id": record_id, "state": "in_flight"})
        raise
    body = getattr(response, "body", None)
    if not 200 <= response.status_code < 300 or not isinstance(body, bytes):
        await records.delete_one({"_id": record_id, "state": "in_flight"})
        return response
    await records.update_one(
        {"_id": record_id},
        {
            "$set": {
                "state": "done",
                "status": response.status_code,
                "headers": {
                    k: v for k, v in response.headers.items() if k.lower() in _REPLAYED_HEADERS
                },
                "body": base64.b64encode(body).decode(),
            }
        },
    )
    return response


async def _claim(records: Collection, record_id: str, fingerprint: str) -> Response | None:
    """Start the first request (None), or answer a duplicate (replay, 409 or 422)."""
    now = datetime.now(UTC)
    for _ in range(3):
        try:
            await records.insert_one(
                {
                    "_id": record_id,
                    "state": "in_flight",
                    "fingerprint": fingerprint,
                    "created_at": now,
                    "started_at": now,
                }
            )
            return None
        except DuplicateKeyError:
            existing = await records.find_one({"_id": record_id})
        if existing is None:
            continue  # expired or released between our two calls: try again
        if existing["fingerprint"] != fingerprint:
            raise Unprocessable(
                f"{HEADER} reused with a different request",
                type=problem_type("idempotency-key-reused"),
            )
        if existing["state"] == "done":
            return _replay(existing)
        stale = now - timedelta(seconds=IN_FLIGHT_TIMEOUT_SECONDS)
        if _aware(existing["started_at"]) <= stale:
            taken = await records.update_one(
                {"_id": record_id, "state": "in_flight", "started_at": existing["started_at"]},
                {"$set": {"started_at": now}},
            )
            if taken.modified_count == 1:
                return None
        raise Conflict(
            f"a request with this {HEADER} is still in progress; retry later",
            type=problem_type("idempotency-key-in-use"),
            headers={"Retry-After": "1"},
        )
    raise Conflict(
        f"{HEADER} could not be claimed; retry", type=problem_type("idempotency-key-in-use")
    )


def _replay(record: dict[str, Any]) -> Response:
    headers = {**record["headers"], REPLAYED_HEADER: "true"}
    return Response(
        content=base64.b64decode(record["body"]), status_code=record["status"], headers=headers
    )


async def _verified_principal(request: Request) -> Principal | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return await get_token_verifier(request).verify(token.strip())
    except (InvalidToken, KeysUnavailable):
        return None


def _record_id(user_id: str, key: str) -> str:
    return hashlib.sha256(f"{user_id}\x00{key}".encode()).hexdigest()


def _fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\x00")
    digest.update(body)
    return digest.hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

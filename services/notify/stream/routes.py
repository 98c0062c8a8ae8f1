"""The realtime stream: `GET /notifications/stream` (Server-Sent Events) and its token.

The stream accepts the bearer header or, for EventSource, `?token=` from
`POST /notifications/stream-token`. Event ids are the recipient's notification `seq`, so a
reconnect with `Last-Event-ID` resumes exactly after the last event received.

No `from __future__ import annotations`: FastAPI resolves the dependencies at definition time.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from services.notify.inbox.repository import InboxRepository
from services.notify.stream import examples
from services.notify.stream.broker import Broker, Subscriber
from services.notify.stream.tokens import MAX_TOKEN_CHARS, InvalidStreamToken, StreamTokens
from shared.http import Principal, PrincipalDep, Problem, Unauthorized, problem_type
from shared.http.auth import current_principal

log = structlog.get_logger()
CATCH_UP_BATCH = 200
# A person has a few devices and tabs; more open streams than this from one person on one
# replica is a script holding connections (OWASP API4), not a reader.
MAX_STREAMS_PER_USER = 10
RETRY_MS = 3000
_bearer = HTTPBearer(auto_error=False)


class StreamToken(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.STREAM_TOKEN]})

    token: str
    expires_in: int


def _event(doc: dict[str, Any], *, late: bool = False) -> bytes:
    """An SSE frame; a late one (its seq passed over) carries no id, so the client's
    Last-Event-ID does not move back."""
    data = {
        "id": doc["_id"],
        "type": doc["type"],
        "actor_id": doc.get("actor_id"),
        "target": doc["target"],
        "group_id": doc["group_id"],
        "title": doc["title"],
        "summary": doc["summary"],
        "link": doc["link"],
        "critical": doc["critical"],
        "created_at": doc["created_at"],
        "seq": doc["seq"],
    }
    if late:
        return b"event: notification\ndata: %s\n\n" % orjson.dumps(data)
    return b"id: %d\nevent: notification\ndata: %s\n\n" % (doc["seq"], orjson.dumps(data))


def _unread(unread: int) -> bytes:
    return b"event: unread\ndata: %s\n\n" % orjson.dumps({"unread": unread})


def build_router(
    repo: InboxRepository,
    broker: Broker,
    tokens: StreamTokens,
    *,
    heartbeat_seconds: float,
    route_class: type[APIRoute],
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["notifications"], route_class=route_class)

    async def stream_principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        token: Annotated[str | None, Query(max_length=MAX_TOKEN_CHARS)] = None,
    ) -> Principal:
        if token is None:
            return await current_principal(request, credentials)
        try:
            return tokens.verify(token)
        except InvalidStreamToken as exc:
            raise Unauthorized(str(exc), type=problem_type("invalid-token")) from None

    @router.post("/notifications/stream-token")
    async def stream_token(principal: PrincipalDep) -> StreamToken:
        """A token valid for 60 s to open the stream from EventSource (`?token=`)."""
        return StreamToken(token=tokens.issue(principal), expires_in=tokens.ttl_seconds)

    @router.get(
        "/notifications/stream",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {"example": examples.EVENTS}}},
            429: {
                "description": "Too many open streams for this person.",
                "content": {
                    "application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"},
                        "example": examples.TOO_MANY,
                    }
                },
            },
        },
    )
    async def stream(
        principal: Annotated[Principal, Depends(stream_principal)],
        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    ) -> StreamingResponse:
        """Your notifications as they happen (SSE), resumable with Last-Event-ID."""
        if broker.connections_of(principal.user_id) >= MAX_STREAMS_PER_USER:
            raise Problem(
                429,
                type=problem_type("too-many-streams"),
                detail=f"at most {MAX_STREAMS_PER_USER} open streams per person; close one",
                headers={"Retry-After": "30"},
            )
        resume = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
        return StreamingResponse(
            _events(principal.user_id, resume),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _events(user_id: str, resume: int | None) -> AsyncIterator[bytes]:
        counter = await repo.counter(user_id)
        floor = resume if resume is not None else counter["seq"]
        sub = Subscriber(user_id, floor=floor)
        yield b"retry: %d\n\n" % RETRY_MS
        if resume is not None:
            while True:
                batch = await repo.since(user_id, sub.floor, CATCH_UP_BATCH)
                for doc in batch:
                    sub.floor = int(doc["seq"])
                    yield _event(doc)
                if len(batch) < CATCH_UP_BATCH:
                    break
        sub.unread = counter["unread"]
        yield _unread(counter["unread"])
        broker.subscribe(sub)
        log.info("notify.stream.opened", resumed=resume is not None)
        try:
            while not sub.overflowed:
                try:
                    kind, value = await asyncio.wait_for(sub.queue.get(), heartbeat_seconds)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if kind == "unread":
                    yield _unread(value)
                else:
                    yield _event(value, late=kind == "late")
        finally:
            broker.unsubscribe(sub)
            log.info("notify.stream.closed")

    return router

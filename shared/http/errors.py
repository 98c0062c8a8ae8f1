"""Exception handlers that turn every error into problem+json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.http.context import request_id_of
from shared.http.problems import Problem, problem_response, problem_type, status_phrase
from shared.unavailable import DependencyUnavailable

RETRY_AFTER_SECONDS = 5

log = structlog.get_logger(__name__)


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _errors(raw: Sequence[Any]) -> list[dict[str, str]]:
    # `input` is left out on purpose: it echoes whatever the client sent, tokens included.
    return [
        {
            "location": _location(e.get("loc", ())),
            "message": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in raw
        if isinstance(e, dict)
    ]


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status,
        title=exc.title,
        detail=exc.problem_detail,
        type=exc.type,
        instance=request.url.path,
        request_id=request_id_of(request),
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    title = status_phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(
        exc.status_code,
        title=title,
        detail=detail,
        instance=request.url.path,
        request_id=request_id_of(request),
        headers=exc.headers,
    )


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    # A body that is not JSON at all is a syntax error (400), not a semantic one (422).
    if any(isinstance(e, dict) and e.get("type") == "json_invalid" for e in raw):
        reasons = [e.get("ctx", {}).get("error", "") for e in raw if isinstance(e, dict)]
        message = "invalid JSON" + (f": {reasons[0]}" if reasons and reasons[0] else "")
        return problem_response(
            400,
            title="Malformed JSON",
            type=problem_type("malformed-json"),
            detail="The request body is not valid JSON.",
            instance=request.url.path,
            request_id=request_id_of(request),
            extensions={
                "errors": [{"location": "body", "message": message, "type": "json_invalid"}]
            },
        )
    return problem_response(
        422,
        title="Validation failed",
        type=problem_type("validation-error"),
        detail="The request did not match the expected shape.",
        instance=request.url.path,
        request_id=request_id_of(request),
        extensions={"errors": _errors(raw)},
    )


def unavailable_response(request_id: str | None, instance: str | None) -> Response:
    """A backing store or index cannot be reached: retry soon (the request wrote nothing
    it will not also publish, since writes and their events share one document)."""
    return problem_response(
        503,
        title="Service Unavailable",
        type=problem_type("dependency-unavailable"),
        detail="A backing service is unavailable. Retry shortly; /readyz names it.",
        instance=instance,
        request_id=request_id,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("http.request.unavailable", path=request.url.path, reason=str(exc)[:200])
    return unavailable_response(request_id_of(request), request.url.path)


def generic_server_error(request_id: str | None, instance: str | None) -> Response:
    """The only thing a client learns about a bug: that it happened, and its request id."""
    return problem_response(
        500,
        type=problem_type("internal-error"),
        detail="An unexpected error occurred. Quote the request id when reporting it.",
        instance=instance,
        request_id=request_id,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Last resort behind the request-context middleware, which normally answers first.
    log.error("http.request.unhandled", exc_info=exc, path=request.url.path)
    return generic_server_error(request_id_of(request), request.url.path)


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation)
    # A dependency that is down is the client's cue to retry later, not a bug: 503, not 500.
    app.add_exception_handler(DependencyUnavailable, _unavailable)
    app.add_exception_handler(Exception, _unexpected)

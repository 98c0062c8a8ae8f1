"""RFC 9457 problem details: the one error shape every Canteen endpoint returns."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:canteen:problem:"


def problem_type(slug: str) -> str:
    """A stable problem `type` URI; clients switch on it, never on `title`."""
    return PROBLEM_TYPE_PREFIX + slug


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Problem(StarletteHTTPException):
    """An error a route or dependency raises on purpose; rendered as problem+json.

    It subclasses Starlette's HTTPException because FastAPI re-raises those untouched
    from body parsing, which lets the body-size limit use the same path.
    """

    def __init__(
        self,
        status: int,
        title: str | None = None,
        *,
        detail: str | None = None,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=dict(headers or {}))
        self.status = status
        self.title = title or status_phrase(status)
        self.problem_detail = detail
        self.type = type
        self.extensions = dict(extensions or {})


class BadRequest(Problem):
    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(400, detail=detail, **kwargs)


class Unauthorized(Problem):
    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(401, detail=detail, **kwargs)


class Forbidden(Problem):
    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(403, detail=detail, **kwargs)


class NotFound(Problem):
    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(404, detail=detail, **kwargs)


class Conflict(Problem):
    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(409, detail=detail, **kwargs)


class PreconditionFailed(Problem):
    """412: the client's `If-Match` names a version that is no longer current."""

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(412, detail=detail, **kwargs)


class Unprocessable(Problem):
    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(422, detail=detail, **kwargs)


class ProblemResponse(Response):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type: str = "about:blank",
    instance: str | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": type,
        "title": title or status_phrase(status),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    # Extensions never override the standard members.
    body.update({k: v for k, v in (extensions or {}).items() if k not in body})
    if request_id is not None:
        body["request_id"] = request_id
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))

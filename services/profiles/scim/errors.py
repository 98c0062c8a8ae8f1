"""SCIM's own error format (RFC 7644 §3.12), rendered by the SCIM routes themselves.

The HTTP kit answers problem+json everywhere; identity providers expect
`urn:ietf:params:scim:api:messages:2.0:Error` with `application/scim+json`. The SCIM
routes use `ScimRoute`, whose handler turns every error raised while serving (its own,
request validation, kit problems) into a SCIM error before the kit's handlers see it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import orjson
import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.http.problems import Problem

log = structlog.get_logger()

SCIM_MEDIA_TYPE = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ScimError(Exception):
    """An error a SCIM route answers on purpose (`scim_type` from RFC 7644 table 9)."""

    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = dict(headers or {})


class ScimResponse(JSONResponse):
    """What the SCIM routes answer; as their default response class it documents the media type."""

    media_type = SCIM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# The error body of RFC 7644 §3.12, so the OpenAPI document says what a client really gets.
ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "title": "ScimError",
    "required": ["schemas", "status"],
    "properties": {
        "schemas": {"type": "array", "items": {"type": "string", "const": ERROR_SCHEMA}},
        "status": {"type": "string", "description": "The HTTP status, as a string"},
        "scimType": {"type": "string"},
        "detail": {"type": "string"},
    },
}
_DOCUMENTED = {
    400: "Invalid request (`scimType` says why).",
    401: "Missing, invalid or revoked provisioning token.",
    404: "No such resource.",
    409: "The user exists (`uniqueness`).",
}


# One typical error per status, as `error_response` renders it (OpenAPI examples).
_EXAMPLES: dict[int, tuple[str | None, str]] = {
    400: ("invalidFilter", "operator co is not supported (only eq)"),
    401: (None, "invalid or revoked provisioning token"),
    404: (None, "User 00u1a2b3c4d5e6f7g8h9 not found"),
    409: ("uniqueness", "userName bo.berg@example.com is taken"),
    501: (None, "search /Users/.search instead"),
}


def _example(code: int) -> dict[str, Any]:
    scim_type, detail = _EXAMPLES.get(code, (None, "request failed"))
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(code)}
    if scim_type:
        body["scimType"] = scim_type
    return {**body, "detail": detail}


def error_docs(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for SCIM errors: the codes given, or the ones every route can give."""
    chosen = codes or tuple(_DOCUMENTED)
    return {
        code: {
            "description": descriptions.get(f"d{code}", _DOCUMENTED.get(code, "SCIM error")),
            "content": {SCIM_MEDIA_TYPE: {"schema": ERROR_BODY, "example": _example(code)}},
        }
        for code in chosen
    }


def scim_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type=SCIM_MEDIA_TYPE, headers=headers
    )


def error_response(exc: ScimError) -> Response:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(exc.status)}
    if exc.scim_type:
        body["scimType"] = exc.scim_type
    body["detail"] = exc.detail
    return scim_json(body, exc.status, exc.headers)


def _validation_detail(exc: RequestValidationError) -> ScimError:
    errors = [e for e in exc.errors() if isinstance(e, dict)]
    if any(e.get("type") == "json_invalid" for e in errors):
        return ScimError(400, "the request body is not valid JSON", "invalidSyntax")
    where = ", ".join(
        ".".join(str(p) for p in e.get("loc", ())) + f": {e.get('msg', '')}" for e in errors[:5]
    )
    return ScimError(400, f"invalid request: {where}", "invalidValue")


class ScimRoute(APIRoute):
    """A route whose errors are SCIM errors."""

    def get_route_handler(self) -> Handler:
        original: Handler = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except ScimError as exc:
                return error_response(exc)
            except RequestValidationError as exc:
                return error_response(_validation_detail(exc))
            except Problem as exc:
                return error_response(
                    ScimError(exc.status, exc.problem_detail or exc.title, headers=exc.headers)
                )
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else "request failed"
                return error_response(ScimError(exc.status_code, detail, headers=exc.headers))

        return handler

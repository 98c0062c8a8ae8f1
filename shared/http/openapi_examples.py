"""Examples the kit adds to every service's OpenAPI document (see `openapi.py`).

Routes give examples for their own models; the kit adds what is the same everywhere:

- a problem+json example for every documented 4xx, shaped like what the kit really sends
  (`errors.py`, `auth/deps.py`, `pagination.py`, `ratelimit.py`, the body limit);
- the examples of its own routes' models (the dev token);
- the examples of pages and lists, derived from their items' examples: `Page[PostOut]` is
  `{"items": [<PostOut example>], "next_cursor": ...}`, so an item's example is written once.

FastAPI drops every `null` from the document, examples included (fastapi/fastapi#5559):
`{"title": None}` comes out as `{}`. Responses always carry their nullable members, so
`restore_nulls` puts `null` back where a required member that may be null went missing.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.http.problems import PROBLEM_MEDIA_TYPE, problem_type, status_phrase

REQUEST_ID = "64f1fe4379cdfc2b96cde3a862aff778"
NEXT_CURSOR = "djE.Zk3x9Q2bTqg1XvA8mJc0pN7rYs4.eyJfaWQiOiIwMTkzYThjMiJ9"


def problem(
    status: int, slug: str | None, detail: str, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    """One problem+json body as the kit renders it."""
    return {
        "type": problem_type(slug) if slug else "about:blank",
        "title": title or status_phrase(status),
        "status": status,
        "detail": detail,
        **extra,
        "request_id": REQUEST_ID,
    }


VALIDATION_PROBLEM = problem(
    422,
    "validation-error",
    "The request did not match the expected shape.",
    "Validation failed",
    instance="/api/v1/posts",
    errors=[
        {
            "location": "body.kind",
            "message": "Input should be 'note', 'question', 'resource' or 'article'",
            "type": "literal_error",
        }
    ],
)

# Per status: (name, summary, body). The first is the typical one.
_PROBLEMS: dict[int, list[tuple[str, str, dict[str, Any]]]] = {
    400: [
        (
            "invalid-cursor",
            "A cursor that was edited or comes from another route",
            problem(
                400,
                "invalid-cursor",
                "invalid cursor: use a next_cursor value returned by this endpoint",
                "Invalid cursor",
            ),
        ),
    ],
    401: [
        (
            "unauthenticated",
            "No bearer token",
            problem(401, "unauthenticated", "missing bearer token"),
        ),
        (
            "invalid-token",
            "An expired, forged or malformed token",
            problem(401, "invalid-token", "token expired"),
        ),
    ],
    403: [
        (
            "forbidden",
            "Allowed to see, not to do",
            problem(403, "forbidden", "admin role required"),
        ),
    ],
    404: [
        (
            "not-found",
            "Unknown, or not visible to the caller",
            problem(404, None, "post 0193a8c2-7d4e-7b1a-8c3f-5e2d1a9b6c70 not found"),
        ),
    ],
    409: [
        (
            "conflict",
            "Changed meanwhile",
            problem(409, None, "post 0193a8c2-7d4e-7b1a-8c3f-5e2d1a9b6c70 changed meanwhile"),
        ),
    ],
    413: [
        (
            "body-too-large",
            "Body over the configured limit",
            problem(
                413,
                "body-too-large",
                "The request body exceeds the limit of 1048576 bytes.",
                "Content Too Large",
            ),
        ),
    ],
    422: [("validation-error", "A field is missing or invalid", VALIDATION_PROBLEM)],
    429: [
        (
            "rate-limited",
            "Too many writes; retry after `Retry-After` seconds",
            problem(
                429, "rate-limited", "too many post requests; retry after the time in Retry-After"
            ),
        ),
    ],
}


def problem_examples(status: int) -> dict[str, dict[str, Any]]:
    """OpenAPI `examples` (name -> Example Object) for a problem+json answer."""
    known = _PROBLEMS.get(status)
    if known is None:
        phrase = status_phrase(status)
        known = [(str(status), phrase, problem(status, None, phrase))]
    return {
        name: {"summary": summary, "value": copy.deepcopy(body)} for name, summary, body in known
    }


# The kit's own routes (dev mode's token) are documented here, next to their router's kit.
KIT_SCHEMA_EXAMPLES: dict[str, list[Any]] = {
    "DevTokenRequest": [{"sub": "ana", "roles": ["moderator"], "name": "Ana Lima"}],
    "DevTokenResponse": [
        {
            "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJl",
            "token_type": "bearer",
            "expires_in": 3600,
        }
    ],
}


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None


def _first_example(schemas: dict[str, Any], schema: dict[str, Any]) -> Any | None:
    name = _ref_name(schema)
    target = schemas.get(name, {}) if name else schema
    examples = target.get("examples") or []
    return examples[0] if examples else None


def _page_example(schemas: dict[str, Any], schema: dict[str, Any]) -> Any | None:
    """`{"items": [X], "next_cursor": ...}` for a `Page[X]` whose X has an example."""
    properties = schema.get("properties", {})
    if set(properties) != {"items", "next_cursor"}:
        return None
    item = _first_example(schemas, properties["items"].get("items", {}))
    return None if item is None else {"items": [item], "next_cursor": NEXT_CURSOR}


def _list_example(schemas: dict[str, Any], schema: dict[str, Any]) -> Any | None:
    """`[X]` for a response that is an array of an X with an example."""
    if schema.get("type") != "array" or "$ref" not in schema.get("items", {}):
        return None
    item = _first_example(schemas, schema["items"])
    return None if item is None else [item]


def _has_example(media: dict[str, Any], schemas: dict[str, Any]) -> bool:
    schema = media.get("schema") or {}
    return bool(
        "example" in media or media.get("examples") or _first_example(schemas, schema) is not None
    )


def _resolve(schemas: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while (name := _ref_name(schema)) is not None and name in schemas:
        schema = schemas[name]
    return schema


def _nullable(schemas: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(schemas, schema)
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(_nullable(schemas, branch) for branch in schema.get("anyOf", []))


def restore_nulls(schemas: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    """Put back, in place, the `null`s FastAPI removed from `value` (an example of `schema`)."""
    if not isinstance(schema, dict):  # `true`: anything goes, nothing to put back
        return
    schema = _resolve(schemas, schema)
    for branch in schema.get("anyOf", []) + schema.get("allOf", []):
        restore_nulls(schemas, branch, value)
    if isinstance(value, list):
        for item in value:
            restore_nulls(schemas, schema.get("items", {}), item)
    if not isinstance(value, dict):
        return
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value and name in properties and _nullable(schemas, properties[name]):
            value[name] = None
    for name, inner in value.items():
        restore_nulls(
            schemas, properties.get(name, schema.get("additionalProperties") or {}), inner
        )


def _media_values(media: dict[str, Any]) -> list[Any]:
    values = [media["example"]] if "example" in media else []
    return values + [e.get("value") for e in (media.get("examples") or {}).values()]


def document_examples(spec: dict[str, Any], methods: set[str]) -> None:
    """Add the kit's examples to `spec` in place; an example a route gave always wins."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    for schema in schemas.values():
        for value in schema.get("examples", []):
            restore_nulls(schemas, schema, value)
    for name, examples in KIT_SCHEMA_EXAMPLES.items():
        if name in schemas:
            schemas[name].setdefault("examples", copy.deepcopy(examples))
    for schema in schemas.values():
        if "examples" not in schema and (example := _page_example(schemas, schema)):
            schema["examples"] = [example]
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in methods:
                continue
            for code, response in operation.get("responses", {}).items():
                for media_type, media in (response.get("content") or {}).items():
                    for value in _media_values(media):
                        restore_nulls(schemas, media.get("schema") or {}, value)
                    if media_type == PROBLEM_MEDIA_TYPE and code[:1] in "45":
                        # The Problem schema's own example is a 422: each status gets its own.
                        if not _media_values(media):
                            media["examples"] = problem_examples(int(code))
                    elif _has_example(media, schemas):
                        continue
                    elif (example := _list_example(schemas, media.get("schema") or {})) is not None:
                        media["example"] = example

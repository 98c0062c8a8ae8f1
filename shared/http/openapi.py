"""Make the generated OpenAPI document tell the truth about errors.

FastAPI documents a `422 HTTPValidationError` JSON body on every route with input; Canteen
answers every error as RFC 9457 problem+json instead (see `errors.py`). This rewrites the
document once, when it is first generated: one `Problem` schema, the 4xx answers a route
can really give (401 behind auth, 404 with a path id, 413/422 with a body or query), all
as `application/problem+json`, so generated clients and schema-driven fuzzers see what the
server sends. Then it adds the kit's examples (`openapi_examples.py`): a problem example on
every documented error, and pages and lists shown with their items' examples.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from shared.http.openapi_examples import VALIDATION_PROBLEM, document_examples
from shared.http.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "Stable URI to switch on"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Validation errors (422 only)",
            "items": {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
    "examples": [VALIDATION_PROBLEM],
}
_METHODS = {"get", "put", "post", "delete", "patch"}
_DESCRIPTIONS = {
    "401": "Missing, expired or invalid bearer token.",
    "404": "Unknown id, or not visible to the caller (the same answer, on purpose).",
    "413": "Request body larger than the configured limit.",
    "422": "Invalid input; `errors` lists each problem with its location.",
}


def _problem_response(code: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS.get(code, "Problem"),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _is_fastapi_422(response: dict[str, Any]) -> bool:
    return "HTTPValidationError" in str(response.get("content", {}))


def _renders_own_errors(responses: dict[str, Any]) -> bool:
    """Whether a route documents 4xx answers in a media type of its own."""
    return any(
        code.startswith("4")
        and not _is_fastapi_422(response)
        and any(media != PROBLEM_MEDIA_TYPE for media in response.get("content", {}))
        for code, response in responses.items()
    )


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Rewrite `spec` in place (and return it) as described in the module docstring."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            params = operation.get("parameters", [])
            if _renders_own_errors(responses):
                # e.g. SCIM (RFC 7644 errors): its router documents them; only the kit's
                # body limit answers problem+json there, and validation is not a 422.
                if _is_fastapi_422(responses.get("422", {})):
                    del responses["422"]
                if operation.get("requestBody"):
                    responses["413"] = _problem_response("413")
                continue
            codes: set[str] = set()
            if "422" in responses or operation.get("requestBody") or params:
                codes.add("422")
            if operation.get("requestBody"):
                codes.add("413")
            if operation.get("security"):
                codes.add("401")
            if any(p.get("in") == "path" for p in params) and path.startswith("/api/"):
                codes.add("404")
            for code in codes:
                existing = responses.get(code, {})
                problem = _problem_response(code)
                if existing.get("description") and code not in _DESCRIPTIONS:
                    problem["description"] = existing["description"]
                responses[code] = problem
    # FastAPI's own validation error schemas are never sent: drop them when unreferenced.
    text = str(spec.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in text:
            schemas.pop(name, None)
    document_examples(spec, _METHODS)
    return spec


def install_problem_docs(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

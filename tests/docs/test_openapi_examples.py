"""Every operation of every service shows examples, and every example is true to its schema.

Walked from the document each service serves at `/openapi.json`, so a new route without
examples fails here: a request body needs an example, so does every answer with a body
(an error answer: examples of its own status, problem+json or SCIM), and every example
found anywhere (media types, parameters, schemas and their properties) must validate
against its own schema. OpenAPI 3.1 schemas are JSON
Schema 2020-12; `$ref`s resolve against the document's components.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from canteen.allinone import SERVICES, create_all_in_one, create_single
from shared.http.openapi import install_problem_docs
from shared.settings import CanteenSettings

METHODS = {"get", "put", "post", "delete", "patch"}
# Where a schema nests other schemas (JSON Schema 2020-12 applicators).
NESTED_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames")
NESTED_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
NESTED_MAP = ("properties", "patternProperties", "$defs")

Found = tuple[str, Any, dict[str, Any]]  # (where, example value, the schema it must match)


@pytest.fixture(scope="module", params=[*SERVICES, "all-in-one"])
def spec(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir: Path = tmp_path_factory.mktemp(request.param) / "var"
    settings = CanteenSettings(env="dev", backend="embedded", data_dir=data_dir)
    if request.param == "all-in-one":
        return create_all_in_one(settings).openapi()
    return create_single(settings, request.param).openapi()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def media_examples(spec: dict[str, Any], where: str, media: dict[str, Any]) -> list[Found]:
    """A media type's examples: its own, else its schema's (through `$ref`)."""
    schema = media.get("schema") or {}
    found: list[Found] = []
    if "example" in media:
        found.append((where, media["example"], schema))
    for name, example in (media.get("examples") or {}).items():
        found.append((f"{where} examples.{name}", example.get("value"), schema))
    if not found:
        target = resolve(spec, schema)
        found += [(f"{where} schema", value, schema) for value in schema_examples(target)]
    return found


def schema_examples(schema: dict[str, Any]) -> list[Any]:
    return [*schema.get("examples", []), *([schema["example"]] if "example" in schema else [])]


def parameter_examples(operation: dict[str, Any], label: str) -> list[Found]:
    found: list[Found] = []
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema") or {}
        where = f"{label} {parameter['in']} parameter {parameter['name']}"
        if "example" in parameter:
            found.append((where, parameter["example"], schema))
        for name, example in (parameter.get("examples") or {}).items():
            found.append((f"{where} examples.{name}", example.get("value"), schema))
    return found


def nested_schemas(where: str, schema: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """`schema` and every schema inside it, with a path to name it by."""
    if not isinstance(schema, dict):
        return
    yield where, schema
    for key in NESTED_ONE:
        yield from nested_schemas(f"{where}.{key}", schema.get(key))
    for key in NESTED_MANY:
        for index, inner in enumerate(schema.get(key) or []):
            yield from nested_schemas(f"{where}.{key}[{index}]", inner)
    for key in NESTED_MAP:
        for name, inner in (schema.get(key) or {}).items():
            yield from nested_schemas(f"{where}.{key}.{name}", inner)


def every_schema(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        yield from nested_schemas(f"components.schemas.{name}", schema)
    for label, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            yield from nested_schemas(f"{label} parameter {parameter['name']}", parameter["schema"])
        bodies = [("request", operation.get("requestBody") or {})]
        bodies += [(code, r) for code, r in operation.get("responses", {}).items()]
        for code, body in bodies:
            for media_type, media in (body.get("content") or {}).items():
                yield from nested_schemas(f"{label} {code} {media_type}", media.get("schema"))


def invalid(spec: dict[str, Any], value: Any, schema: dict[str, Any]) -> str | None:
    # The document's components ride along, so `#/components/...` resolves as in the document.
    rooted = {**schema, "components": spec.get("components", {})}
    validator = Draft202012Validator(rooted, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    return "; ".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:3])


def missing_request_examples(spec: dict[str, Any]) -> list[str]:
    return [
        f"{label} request {media_type}"
        for label, operation in operations(spec)
        for media_type, media in (operation.get("requestBody") or {}).get("content", {}).items()
        if not media_examples(spec, label, media)
    ]


def missing_answer_examples(spec: dict[str, Any]) -> list[str]:
    missing: list[str] = []
    for label, operation in operations(spec):
        responses = operation.get("responses", {})
        # An operation that is never implemented (SCIM's root search) documents its 501 only.
        answered = [code for code in responses if code.startswith("2") or code == "501"]
        assert answered, f"{label} documents no success"
        for code, response in responses.items():
            for media_type, media in (response.get("content") or {}).items():
                if not media_examples(spec, f"{label} {code}", media):
                    missing.append(f"{label} {code} {media_type}")
                elif code[:1] in "45" and not errors_of_status(media, code):
                    missing.append(f"{label} {code} {media_type} (an error of that status)")
    return missing


def errors_of_status(media: dict[str, Any], code: str) -> bool:
    """An error answer shows its own examples, each with that status (problem+json or SCIM)."""
    values = [media["example"]] if "example" in media else []
    values += [example.get("value") for example in (media.get("examples") or {}).values()]
    return bool(values) and all(str(value.get("status")) == code for value in values)


def test_every_request_body_has_an_example(spec: dict[str, Any]) -> None:
    missing = missing_request_examples(spec)
    assert not missing, "no example:\n" + "\n".join(missing)


def test_every_answer_with_a_body_has_an_example(spec: dict[str, Any]) -> None:
    missing = missing_answer_examples(spec)
    assert not missing, "no example:\n" + "\n".join(missing)


class Thing(BaseModel):
    name: str


def test_a_new_route_without_examples_is_caught() -> None:
    """A route added without examples is reported; the kit's problem examples are not enough."""
    app = FastAPI()

    @app.post("/api/v1/things")
    async def make(thing: Thing) -> Thing:
        """Make a thing."""
        return thing

    install_problem_docs(app)
    spec = app.openapi()
    assert missing_request_examples(spec) == ["POST /api/v1/things request application/json"]
    assert missing_answer_examples(spec) == ["POST /api/v1/things 200 application/json"]


def test_every_example_matches_its_schema(spec: dict[str, Any]) -> None:
    found: list[Found] = []
    for label, operation in operations(spec):
        found += parameter_examples(operation, label)
        bodies = [("request", operation.get("requestBody") or {})]
        bodies += [(code, r) for code, r in operation.get("responses", {}).items()]
        for code, body in bodies:
            for media_type, media in (body.get("content") or {}).items():
                found += media_examples(spec, f"{label} {code} {media_type}", media)
    for where, schema in every_schema(spec):
        found += [(f"{where} examples", value, schema) for value in schema_examples(schema)]
    assert len(found) > len(list(operations(spec))), "fewer examples than operations"
    wrong = [
        f"{where}: {why}" for where, value, schema in found if (why := invalid(spec, value, schema))
    ]
    assert not wrong, f"{len(wrong)} example(s) do not match their schema:\n" + "\n".join(wrong)


def test_an_example_that_breaks_its_schema_is_caught(spec: dict[str, Any]) -> None:
    """The check above can fail: a wrong type and a missing required member are reported."""
    schema = {"$ref": "#/components/schemas/Problem"}
    assert invalid(spec, {"type": "urn:canteen:problem:x", "title": "X", "status": "4xx"}, schema)
    assert invalid(spec, {"title": "Not Found", "status": 404}, schema)
    assert invalid(spec, {"type": "a", "title": "b", "status": 404}, schema) is None

"""OWASP API Security Top 10 (2023) checks that read the route table or poke the live API.

API1/API5 live in test_object_authorization.py, API6 in test_rate_limits.py, API2 token
checks in tests/shared/http/test_http_auth.py and test_http_bad_input.py; this file covers
API2's dev route, API3 (property level), API4 (resource consumption), API8
(misconfiguration) and operator injection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from canteen.allinone import create_all_in_one
from shared.http.ratelimit import RateLimiter
from shared.settings import CanteenSettings
from tests.conftest import login_with, serve
from tests.support import eventually

V1 = "/api/v1"
INJECTION = '{"$gt": ""}'
# SCIM bodies follow RFC 7643: unknown attributes are ignored, never applied (checked in
# tests/profiles/test_scim_*.py), and they need a SCIM token, not a user's JWT.
SCIM_PREFIX = "/scim/"


def dev_spec(tmp_path: Path) -> dict[str, Any]:
    settings = CanteenSettings(env="dev", backend="embedded", data_dir=tmp_path / "var")
    spec: dict[str, Any] = create_all_in_one(settings).openapi()
    return spec


def _schema(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return _schema(spec, spec["components"]["schemas"][ref.rsplit("/", 1)[1]])
    return node


def _strings(node: dict[str, Any]) -> list[dict[str, Any]]:
    if node.get("type") == "string":
        return [node]
    found = [s for option in node.get("anyOf", []) for s in _strings(option)]
    if node.get("type") == "array":
        found += _strings(node.get("items", {}))
    return found


# API3 ---------------------------------------------------------------------------------


def test_every_request_body_refuses_unknown_properties(tmp_path: Path) -> None:
    """Mass assignment: `author_id`, `roles`, counters... in a body are a 422, never applied."""
    spec = dev_spec(tmp_path)
    open_bodies = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body or path.startswith(SCIM_PREFIX):
                continue
            for media, content in body["content"].items():
                schema = _schema(spec, content["schema"])
                if (
                    schema.get("type") == "object"
                    and schema.get("additionalProperties") is not False
                ):
                    open_bodies.append(f"{method.upper()} {path} ({media})")
    assert not open_bodies, f"bodies accepting unknown properties: {open_bodies}"


async def test_privileged_fields_in_a_body_are_refused(settings: CanteenSettings) -> None:
    app = create_all_in_one(settings)
    app.state.rate_limiter = RateLimiter(multiplier=0)
    async for client in serve(app):
        ana = await login_with(client)("ana")
        assert (await client.get(f"{V1}/people/me", headers=ana)).status_code == 200
        attempts = [
            ("POST", f"{V1}/posts", {"body_md": "hi", "author_id": "mallory"}),
            ("POST", f"{V1}/posts", {"body_md": "hi", "counts": {"reactions": 1000}}),
            ("POST", f"{V1}/posts", {"body_md": "hi", "audience": "org", "pinned": True}),
            ("PATCH", f"{V1}/people/me", {"title": "CEO", "roles": ["admin"]}),
            ("PATCH", f"{V1}/people/me", {"title": "CEO", "active": False, "id": "root"}),
            ("POST", f"{V1}/groups", {"name": "G", "slug": "g-1", "member_count": 10**6}),
        ]
        for method, path, body in attempts:
            response = await client.request(method, path, json=body, headers=ana)
            assert response.status_code == 422, (path, body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        me = (await client.get(f"{V1}/people/me", headers=ana)).json()
        assert me.get("title") != "CEO"
        posts = (await client.get(f"{V1}/posts", headers=ana)).json()["items"]
        assert posts == []


# injection ----------------------------------------------------------------------------


async def test_operator_objects_never_reach_a_query(settings: CanteenSettings) -> None:
    """`{"$gt": ""}` as a JSON value is a 422; as a query string it is just text."""
    app = create_all_in_one(settings)
    app.state.rate_limiter = RateLimiter(multiplier=0)
    async for client in serve(app):
        login = login_with(client)
        ana, ben = await login("ana"), await login("ben")
        for who in (ana, ben):
            assert (await client.get(f"{V1}/people/me", headers=who)).status_code == 200
        made = await client.post(
            f"{V1}/posts", json={"body_md": "secret plans", "tags": ["plans"]}, headers=ana
        )
        assert made.status_code == 201
        for field in ("body_md", "title", "tags", "group_id", "url"):
            value: Any = [{"$ne": None}] if field == "tags" else {"$gt": ""}
            body = {"body_md": "x", field: value}
            response = await client.post(f"{V1}/posts", json=body, headers=ana)
            assert response.status_code == 422, (field, response.text)

        async def indexed(http: httpx.AsyncClient = client, who: dict[str, str] = ben) -> int:
            found = await http.get(f"{V1}/search", params={"q": "plans"}, headers=who)
            return int(found.json()["total"]) if found.status_code == 200 else 0

        # The post is searchable first, so an injected filter that found it would show.
        await eventually(indexed, until=lambda total: total >= 1)
        probes = [
            (f"{V1}/people", {"department": INJECTION}),
            (f"{V1}/questions", {"topic": INJECTION}),
            (f"{V1}/search", {"q": INJECTION}),
            (f"{V1}/search", {"q": "plans", "author": INJECTION}),
            (f"{V1}/feeds/topics/{INJECTION}", {}),
            (f"{V1}/follows/topics/{INJECTION}/followers", {}),
        ]
        for path, params in probes:
            injected = await client.get(path, params=params, headers=ben)
            assert injected.status_code in (200, 400, 404, 422), (path, injected.text)
            if injected.status_code == 200:
                # Text, not an operator: it matches what any other unknown value matches.
                items = injected.json().get("items", [])
                assert items == [] or all("secret" not in str(i) for i in items), path


# API4 ---------------------------------------------------------------------------------


def test_every_query_parameter_and_page_size_is_bounded(tmp_path: Path) -> None:
    spec = dev_spec(tmp_path)
    unbounded = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for param in operation.get("parameters", []):
                if param["in"] != "query":
                    continue
                schema = param["schema"]
                name = f"{method.upper()} {path} ?{param['name']}"
                if param["name"] == "limit" and "maximum" not in str(schema):
                    unbounded.append(f"{name}: no maximum")
                if "array" in str(schema) and "maxItems" not in str(schema):
                    unbounded.append(f"{name}: no maxItems")
                for string in _strings(schema):
                    # A format (date-time...) is parsed into a bounded value.
                    if not ({"maxLength", "enum", "const", "format"} & set(string)):
                        unbounded.append(f"{name}: no maxLength")
    assert not unbounded, "\n".join(unbounded)


async def test_an_absurdly_long_path_is_refused_early(settings: CanteenSettings) -> None:
    app = create_all_in_one(settings)
    async for client in serve(app):
        ana = await login_with(client)("ana")
        response = await client.get(f"{V1}/posts/{'x' * 10_000}", headers=ana)
        assert response.status_code == 414
        assert response.headers["content-type"].startswith("application/problem+json")


# API8 and API2's dev route ------------------------------------------------------------


def prod_settings(tmp_path: Path) -> CanteenSettings:
    return CanteenSettings(
        env="prod",
        backend="embedded",
        data_dir=tmp_path / "var",
        jwks_url="https://idp.example.test/.well-known/jwks.json",
        jwt_issuer="https://idp.example.test/",
        cursor_secret="z" * 48,
        cors_origins=["https://intranet.example.test"],
    )


async def test_production_serves_no_explorer_no_schema_and_no_dev_tokens(
    tmp_path: Path,
) -> None:
    app = create_all_in_one(prod_settings(tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://canteen") as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/problem+json")
        minted = await client.post(f"{V1}/dev/token", json={"sub": "root", "roles": ["admin"]})
        assert minted.status_code == 404
        assert "access_token" not in minted.text


async def test_cors_answers_only_the_allowed_origin(tmp_path: Path) -> None:
    app = create_all_in_one(prod_settings(tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://canteen") as client:
        preflight = {"Access-Control-Request-Method": "POST"}
        good = await client.options(
            f"{V1}/posts", headers={"Origin": "https://intranet.example.test", **preflight}
        )
        assert good.headers.get("access-control-allow-origin") == "https://intranet.example.test"
        evil = await client.options(
            f"{V1}/posts", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in evil.headers
        assert evil.status_code >= 400


@pytest.mark.parametrize("path", ["/api/v1/posts", "/api/v1/nothing-here"])
async def test_errors_show_no_internals(tmp_path: Path, path: str) -> None:
    app = create_all_in_one(prod_settings(tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://canteen") as client:
        response = await client.get(path)
        assert response.status_code in (401, 404)
        assert "Traceback" not in response.text and 'File "' not in response.text
        assert "server" not in response.headers or "uvicorn" not in response.headers["server"]

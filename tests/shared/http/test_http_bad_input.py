"""Every bad request is a 4xx problem+json, never a 500, and writes nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from http_kit_support import (
    DEV_SECRET,
    MAX_BODY,
    Demo,
    SigningKey,
    bearer,
    claims,
    ec_key,
    handmade,
    sign,
)

from shared.http import CursorCodec

NOTES = "/api/v1/demo/notes"
ITEMS = "/api/v1/demo/items"
GOOD_NOTE = b'{"title": "lunch", "priority": 1}'
OTHER_SECRET_CURSOR = CursorCodec("another-secret-0123456789abcdefghijkl").encode({"id": "x"})


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["type"], str) and body["type"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body


@pytest.fixture
def token(rsa1: SigningKey) -> str:
    return sign(rsa1)


async def test_a_valid_note_is_written(client: httpx.AsyncClient, demo: Demo, token: str) -> None:
    # The control case: proves the matrix below fails for the reason it names.
    response = await client.post(
        NOTES, content=GOOD_NOTE, headers={**bearer(token), "Content-Type": "application/json"}
    )

    assert response.status_code == 201, response.text
    assert response.json() == {"title": "lunch", "priority": 1, "author": "user-1"}
    assert len(demo.written) == 1


async def chunks(data: bytes, size: int = 256) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize(
    ("content", "status", "location"),
    [
        pytest.param(b'{"title": "lunch", "priority": ', 400, "body", id="malformed-json"),
        pytest.param(b"not json at all", 400, "body", id="not-json"),
        pytest.param(
            b'{"title": "lunch", "priority": "SECRET-INPUT"}', 422, "body.priority", id="wrong-type"
        ),
        pytest.param(b'{"priority": 1}', 422, "body.title", id="missing-field"),
        pytest.param(b"[1, 2]", 422, "body", id="wrong-shape"),
        pytest.param(b"", 422, "body", id="empty-body"),
    ],
)
async def test_invalid_bodies_are_rejected(
    client: httpx.AsyncClient,
    demo: Demo,
    token: str,
    content: bytes,
    status: int,
    location: str,
) -> None:
    response = await client.post(
        NOTES, content=content, headers={**bearer(token), "Content-Type": "application/json"}
    )

    body = assert_problem(response, status)
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    assert location in [e["location"] for e in errors]
    if status == 400:
        assert body["title"] == "Malformed JSON"
        assert errors[0]["message"].startswith("invalid JSON")
    assert "SECRET-INPUT" not in response.text  # the input is never echoed
    assert demo.written == []


async def test_oversize_body_by_content_length_is_rejected(
    client: httpx.AsyncClient, demo: Demo, token: str
) -> None:
    payload = b'{"title": "' + b"x" * MAX_BODY + b'", "priority": 1}'

    response = await client.post(
        NOTES, content=payload, headers={**bearer(token), "Content-Type": "application/json"}
    )

    assert_problem(response, 413)
    assert demo.written == []


async def test_a_declared_oversize_body_is_refused_before_routing(
    client: httpx.AsyncClient,
) -> None:
    # /healthz never reads a body: only the up-front Content-Length check can refuse it.
    response = await client.request("GET", "/healthz", content=b"x" * (MAX_BODY + 1))

    assert_problem(response, 413)
    assert response.headers["connection"] == "close"


async def test_oversize_chunked_body_is_rejected(
    client: httpx.AsyncClient, demo: Demo, token: str
) -> None:
    payload = b'{"title": "' + b"x" * (MAX_BODY * 3) + b'", "priority": 1}'

    request = client.build_request(
        "POST",
        NOTES,
        content=chunks(payload),
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert "content-length" not in request.headers  # really streamed
    response = await client.send(request)

    assert_problem(response, 413)
    assert demo.written == []


async def test_a_chunked_body_under_the_limit_is_accepted(
    client: httpx.AsyncClient, demo: Demo, token: str
) -> None:
    response = await client.post(
        NOTES,
        content=chunks(GOOD_NOTE, size=5),
        headers={**bearer(token), "Content-Type": "application/json"},
    )

    assert response.status_code == 201, response.text
    assert len(demo.written) == 1


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="garbage"),
        pytest.param("!!!", id="not-base64"),
        pytest.param(
            CursorCodec("another-secret-0123456789abcdefghijkl").encode({"id": "x"}),
            id="other-secret",
        ),
        pytest.param("A" * 3000, id="too-long"),
    ],
)
async def test_bad_cursors_are_rejected(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get(ITEMS, params={"cursor": cursor})

    status = 422 if len(cursor) > 2048 else 400
    body = assert_problem(response, status)
    if status == 400:
        assert body["detail"].startswith("invalid cursor")


async def test_a_tampered_cursor_is_rejected(client: httpx.AsyncClient) -> None:
    first = await client.get(ITEMS, params={"limit": 2})
    cursor = first.json()["next_cursor"]
    assert cursor
    # Flip one character in the payload part (after version + 32-byte tag = 44 chars).
    flipped = cursor[:50] + ("A" if cursor[50] != "A" else "B") + cursor[51:]

    response = await client.get(ITEMS, params={"cursor": flipped})

    assert_problem(response, 400)


@pytest.mark.parametrize("limit", ["101", "0", "-1", "ten"])
async def test_out_of_range_limits_are_rejected(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get(ITEMS, params={"limit": limit})

    body = assert_problem(response, 422)
    assert [e["location"] for e in body["errors"]] == ["query.limit"]


@pytest.fixture
def bad_tokens(rsa1: SigningKey, intruder: SigningKey) -> dict[str, tuple[dict[str, str], str]]:
    now = int(time.time())
    ec_intruder = ec_key("ec-1")
    public_pem = rsa1.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "absent": ({}, "missing bearer token"),
        "not-bearer": ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing bearer token"),
        "malformed": (bearer("not.a.jwt"), "malformed token"),
        "garbage": (bearer("abc"), "malformed token"),
        "expired": (bearer(sign(rsa1, iat=now - 600, exp=now - 120)), "token expired"),
        "not-yet-valid": (bearer(sign(rsa1, nbf=now + 600)), "token not yet valid"),
        "forged": (bearer(sign(intruder)), "invalid signature"),
        "alg-none": (
            bearer(handmade({"alg": "none", "kid": "rsa-1"}, claims(), None)),
            "unsupported token algorithm",
        ),
        "hs256-with-public-key": (
            bearer(handmade({"alg": "HS256", "kid": "rsa-1"}, claims(), public_pem)),
            "unsupported token algorithm",
        ),
        "hs256-dev-token": (
            bearer(handmade({"alg": "HS256"}, claims(), DEV_SECRET.encode())),
            "unsupported token algorithm",
        ),
        "rs256-claiming-ec-key": (bearer(sign(rsa1, kid="ec-1")), "unsupported token algorithm"),
        "unknown-kid": (bearer(sign(rsa1, kid="nope")), "unknown signing key"),
        "no-kid": (
            bearer(jwt.encode(claims(), rsa1.private, algorithm="RS256")),
            "token has no key id",
        ),
        "wrong-issuer": (bearer(sign(rsa1, iss="https://evil.test")), "invalid issuer"),
        "wrong-audience": (bearer(sign(rsa1, aud="other-api")), "invalid audience"),
        "no-exp": (bearer(sign(rsa1, exp=None)), "missing claim: exp"),
        "no-sub": (bearer(sign(rsa1, sub=None)), "missing claim: sub"),
        "roles-not-a-list": (bearer(sign(rsa1, roles="admin")), "invalid roles claim"),
        "ec-forged": (bearer(sign(ec_intruder, kid="ec-1")), "invalid signature"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "absent",
        "not-bearer",
        "malformed",
        "garbage",
        "expired",
        "not-yet-valid",
        "forged",
        "alg-none",
        "hs256-with-public-key",
        "hs256-dev-token",
        "rs256-claiming-ec-key",
        "unknown-kid",
        "no-kid",
        "wrong-issuer",
        "wrong-audience",
        "no-exp",
        "no-sub",
        "roles-not-a-list",
        "ec-forged",
    ],
)
async def test_bad_tokens_are_unauthorized(
    client: httpx.AsyncClient,
    demo: Demo,
    bad_tokens: dict[str, tuple[dict[str, str], str]],
    case: str,
) -> None:
    headers, reason = bad_tokens[case]

    response = await client.post(
        NOTES, content=GOOD_NOTE, headers={**headers, "Content-Type": "application/json"}
    )

    body = assert_problem(response, 401)
    assert body["detail"] == reason
    assert response.headers["www-authenticate"].startswith("Bearer")
    credentials = headers.get("Authorization", "").removeprefix("Bearer ")
    if credentials:  # never echoed (the random request id may contain "abc" by chance)
        assert credentials not in {k: v for k, v in body.items() if k != "request_id"}.__repr__()
    assert demo.written == []


async def test_a_non_admin_is_forbidden_from_admin_routes(
    client: httpx.AsyncClient, rsa1: SigningKey
) -> None:
    response = await client.get("/api/v1/demo/admin", headers=bearer(sign(rsa1, roles=["staff"])))

    body = assert_problem(response, 403)
    assert body["detail"] == "admin role required"


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nope")
    wrong_method = await client.delete(NOTES)

    assert_problem(missing, 404)
    assert_problem(wrong_method, 405)
    assert "POST" in wrong_method.headers["allow"]


async def test_the_dev_token_route_is_absent_outside_dev_mode(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/dev/token", json={"sub": "mallory", "roles": ["admin"]})

    assert_problem(response, 404)


async def test_a_problem_raised_by_a_route_keeps_its_type_and_extensions(
    client: httpx.AsyncClient, demo: Demo, token: str
) -> None:
    headers = {**bearer(token), "Content-Type": "application/json"}
    await client.post(NOTES, content=GOOD_NOTE, headers=headers)

    response = await client.post(NOTES, content=GOOD_NOTE, headers=headers)

    body = assert_problem(response, 409)
    assert body["type"] == "urn:canteen:problem:duplicate-note"
    assert body["title"] == "Conflict"
    assert body["detail"] == "a note titled 'lunch' exists"
    assert body["instance"] == NOTES
    assert body["existing_title"] == "lunch"
    assert len(demo.written) == 1

"""OWASP API8 (security misconfiguration): every answer carries the headers an API needs."""

from __future__ import annotations

import httpx
from http_kit_support import ALLOWED_ORIGIN

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


async def test_success_errors_and_probes_carry_the_security_headers(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/healthz", "/api/v1/demo/me", "/api/v1/nowhere", "/api/v1/demo/boom"):
        response = await client.get(path, headers={"Origin": ALLOWED_ORIGIN})
        for name, value in EXPECTED.items():
            assert response.headers.get(name) == value, (path, name, response.status_code)
        assert response.headers["cache-control"] == "no-store", path
        assert "server" not in {k.lower() for k in response.headers} or "uvicorn" not in (
            response.headers.get("server", "").lower()
        )


async def test_a_route_that_sets_its_own_caching_keeps_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/demo/cached")
    assert response.status_code == 200
    assert response.headers.get_list("cache-control") == ["private, max-age=0"]
    assert response.headers["x-content-type-options"] == "nosniff"

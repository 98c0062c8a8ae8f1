"""A small HTTP client for the seeder: dev tokens per user, retries, bounded concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

TOKEN_TTL_SECONDS = 86_400
RETRYABLE = {409, 429, 502, 503, 504}  # 409: the same Idempotency-Key still in flight
ATTEMPTS = 6


class SeedError(Exception):
    """The stack refused something the seeder cannot work around; the message says what."""


class Api:
    """Calls a running stack as any demo user (dev tokens), a few requests at a time."""

    def __init__(self, http: httpx.AsyncClient, *, concurrency: int = 8) -> None:
        self.http = http
        self._tokens: dict[str, str] = {}
        self._token_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(concurrency)

    async def token(self, user_id: str, roles: tuple[str, ...] = ()) -> str:
        key = f"{user_id}|{','.join(roles)}"
        if key in self._tokens:
            return self._tokens[key]
        async with self._token_lock:
            if key not in self._tokens:
                response = await self.http.post(
                    "/api/v1/dev/token",
                    json={"sub": user_id, "roles": list(roles), "ttl_seconds": TOKEN_TTL_SECONDS},
                )
                if response.status_code == 404:
                    raise SeedError(
                        "the stack issues no dev tokens (POST /api/v1/dev/token is 404): "
                        "seed-demo needs a stack in dev mode (CANTEEN_ENV=dev, no JWKS URL)"
                    )
                _check(response, "POST /api/v1/dev/token")
                self._tokens[key] = response.json()["access_token"]
        return self._tokens[key]

    async def call(
        self,
        method: str,
        path: str,
        *,
        as_user: str,
        roles: tuple[str, ...] = (),
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        ok: tuple[int, ...] = (),
        bearer: str | None = None,
    ) -> httpx.Response:
        """The response; statuses in `ok` and 2xx return, others raise SeedError."""
        headers = {"Authorization": f"Bearer {bearer or await self.token(as_user, roles)}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if json is not None and path.startswith("/scim/"):
            headers["Content-Type"] = "application/scim+json"
        delay = 0.2
        for attempt in range(1, ATTEMPTS + 1):
            async with self._slots:
                try:
                    response = await self.http.request(
                        method, path, json=json, params=params, headers=headers
                    )
                except httpx.TransportError as exc:
                    if attempt == ATTEMPTS:
                        raise SeedError(f"{method} {path}: {exc}") from exc
                    response = None
            if response is not None:
                if response.status_code in ok or response.is_success:
                    return response
                if response.status_code not in RETRYABLE or attempt == ATTEMPTS:
                    _check(response, f"{method} {path} as {as_user}")
            await asyncio.sleep(delay)  # back off before retrying a busy stack
            delay = min(delay * 2, 3.0)
        raise SeedError(f"{method} {path}: no answer after {ATTEMPTS} attempts")

    async def pages(self, path: str, *, as_user: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated list."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            body = (await self.call("GET", path, as_user=as_user, params=params)).json()
            items.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return items


def _check(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    detail = response.text[:300]
    raise SeedError(f"{what} answered {response.status_code}: {detail}")

"""A cached JWKS with rotation: unknown key ids trigger a rate-limited refetch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import structlog

log = structlog.get_logger(__name__)

# One algorithm per key type: a token may never pick how its key is interpreted.
_ALGORITHM_FOR: dict[tuple[object, object], str] = {
    ("RSA", None): "RS256",
    ("EC", "P-256"): "ES256",
}


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str
    algorithm: str
    key: Any


class KeysUnavailable(Exception):
    """The JWKS could not be fetched and no earlier copy is cached."""


def parse_jwks(document: Any) -> dict[str, VerificationKey]:
    """Keys usable for signatures; anything else (oct, enc, odd curves) is skipped."""
    keys: dict[str, VerificationKey] = {}
    entries = document.get("keys") if isinstance(document, Mapping) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid, kty = entry.get("kid"), entry.get("kty")
        algorithm = _ALGORITHM_FOR.get((kty, entry.get("crv") if kty == "EC" else None))
        if not isinstance(kid, str) or algorithm is None:
            continue
        if entry.get("alg", algorithm) != algorithm:
            continue
        try:
            keys[kid] = VerificationKey(kid, algorithm, jwt.PyJWK(entry, algorithm).key)
        except (jwt.PyJWTError, ValueError, TypeError):
            log.warning("http.auth.jwks_key_skipped", kid=kid)
    return keys


class JwksCache:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        ttl_seconds: float,
        min_refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = url
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> VerificationKey | None:
        """The key for `kid`, or None when even a fresh JWKS does not list it."""
        stale = self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl
        refreshed = stale and self._may_refetch()
        if refreshed:
            await self._refresh("expired")
        if self._fetched_at is None:
            raise KeysUnavailable
        key = self._keys.get(kid)
        if key is None and not refreshed and self._may_refetch():
            await self._refresh("unknown_kid")
            key = self._keys.get(kid)
        return key

    def holds(self, key: VerificationKey) -> bool:
        """Whether the current key set still has `key` under its kid (no fetch)."""
        return self._keys.get(key.kid) is key

    def _may_refetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refresh

    async def _refresh(self, reason: str) -> None:
        attempted_before = self._attempted_at
        async with self._lock:
            # Someone else refreshed while we waited: one fetch serves the whole burst.
            if self._attempted_at != attempted_before:
                return
            self._attempted_at = self._clock()
            try:
                response = await self._client.get(self._url)
                response.raise_for_status()
                keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                # Keep serving the previous keys; the rate limit spaces out retries.
                log.warning("http.auth.jwks_fetch_failed", reason=reason, error=type(exc).__name__)
                return
            self._keys = keys
            self._fetched_at = self._attempted_at
            log.info("http.auth.jwks_fetched", reason=reason, kids=sorted(keys))

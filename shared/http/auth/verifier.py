"""Bearer token verification: signature, algorithm allow-list and registered claims."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from shared.http.auth.jwks import JwksCache, VerificationKey
from shared.http.auth.principal import Principal

DEV_ALGORITHM = "HS256"
_ASYMMETRIC = frozenset({"RS256", "ES256"})
# Checking a signature is most of an authenticated request's cost, and a client sends the
# same token on every request until it expires. A verified token's principal is reused
# until its `exp` (+ leeway), for at most CACHE_SECONDS, and only while the JWKS cache still
# holds the key it was checked with (a rotated-out key is refused at once). The cache
# holds CACHE_SIZE tokens, oldest out. The principal gate (deprovisioned people) still
# runs on every request: it is not part of this.
CACHE_SECONDS = 60.0
CACHE_SIZE = 4096

_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidSignatureError, "invalid signature"),
    (jwt.InvalidIssuerError, "invalid issuer"),
    (jwt.InvalidAudienceError, "invalid audience"),
    (jwt.InvalidAlgorithmError, "unsupported token algorithm"),
    (jwt.InvalidIssuedAtError, "invalid issued-at time"),
    (jwt.DecodeError, "malformed token"),
)


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    until: float  # reusable until then: exp + leeway, at most CACHE_SECONDS after the check
    key: VerificationKey | None  # None: the dev secret, which never rotates


class InvalidToken(Exception):
    """Why a token was refused, phrased to be safe to show the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenVerifier:
    """Verifies RS256/ES256 tokens against a JWKS and, in dev mode only, HS256 dev tokens."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int,
        jwks: JwksCache | None,
        dev_secret: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._jwks = jwks
        self._dev_secret = dev_secret
        self._clock = clock
        self._verified: dict[str, _Verified] = {}

    async def verify(self, token: str) -> Principal:
        """Raises InvalidToken, or KeysUnavailable when the JWKS cannot be fetched."""
        now = self._clock()
        hit = self._verified.get(token)
        if hit is not None:
            if now < hit.until and (hit.key is None or self._holds(hit.key)):
                return hit.principal
            # Expired, due for a fresh check, or its key was rotated out: verify again.
            del self._verified[token]
        checked = await self._check(token, now)
        if len(self._verified) >= CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = checked
        return checked.principal

    def _holds(self, key: VerificationKey) -> bool:
        return self._jwks is not None and self._jwks.holds(key)

    async def _check(self, token: str, now: float) -> _Verified:
        """The token's principal and the key it was checked with, from signature and claims."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        secret, algorithm, key = await self._key_for(header)
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"missing claim: {exc.claim}") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(_reason(exc)) from None
        until = min(float(claims["exp"]) + self._leeway, now + CACHE_SECONDS)
        return _Verified(principal=_principal(claims), until=until, key=key)

    async def _key_for(self, header: Mapping[str, Any]) -> tuple[Any, str, VerificationKey | None]:
        """(key material, algorithm, the JWKS key it came from or None for the dev secret)."""
        # The algorithm comes from our side of the key, never from the token alone:
        # an HS256 token must not be checked with an RSA public key as HMAC secret.
        algorithm = header.get("alg")
        if algorithm == DEV_ALGORITHM and self._dev_secret is not None:
            return self._dev_secret, DEV_ALGORITHM, None
        if algorithm not in _ASYMMETRIC or self._jwks is None:
            raise InvalidToken("unsupported token algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id")
        key = await self._jwks.key_for(kid)
        if key is None:
            raise InvalidToken("unknown signing key")
        if key.algorithm != algorithm:
            raise InvalidToken("unsupported token algorithm")
        return key.key, key.algorithm, key


def _reason(exc: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "invalid token"


def _principal(claims: Mapping[str, Any]) -> Principal:
    sub, roles, name = claims.get("sub"), claims.get("roles", []), claims.get("name")
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("invalid subject")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("invalid roles claim")
    return Principal(
        user_id=sub, roles=frozenset(roles), name=name if isinstance(name, str) else None
    )

"""Dev-mode token issuing, so local clients can log in without an identity provider."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Literal

import jwt
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from shared.http.auth.verifier import DEV_ALGORITHM

MAX_DEV_TTL_SECONDS = 86_400


class DevTokenSigner:
    def __init__(
        self,
        *,
        secret: str,
        issuer: str,
        audience: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._clock = clock

    def sign(
        self, sub: str, roles: Sequence[str] = (), *, name: str | None = None, ttl_seconds: int
    ) -> str:
        now = int(self._clock())
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": sub,
            "roles": list(roles),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
        }
        if name is not None:
            claims["name"] = name
        return jwt.encode(claims, self._secret, algorithm=DEV_ALGORITHM)


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sub: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(default_factory=list, max_length=50)
    name: str | None = Field(default=None, max_length=200)
    ttl_seconds: int = Field(default=3600, ge=1, le=MAX_DEV_TTL_SECONDS)


class DevTokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme, not a secret
    expires_in: int


def dev_token_router(signer: DevTokenSigner) -> APIRouter:
    """Mounted by create_app in dev mode only; elsewhere the path is a plain 404."""
    router = APIRouter(prefix="/api/v1/dev", tags=["dev"])

    @router.post("/token")
    async def issue_dev_token(body: DevTokenRequest) -> DevTokenResponse:
        """Issue an HS256 token for any user and roles (dev mode only)."""
        token = signer.sign(body.sub, body.roles, name=body.name, ttl_seconds=body.ttl_seconds)
        return DevTokenResponse(access_token=token, expires_in=body.ttl_seconds)

    return router

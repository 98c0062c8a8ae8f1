"""FastAPI dependencies: `PrincipalDep` for any signed-in user, `AdminDep` for admins."""

from __future__ import annotations

from typing import Annotated, Protocol

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.http.auth.jwks import KeysUnavailable
from shared.http.auth.principal import Principal
from shared.http.auth.verifier import InvalidToken, TokenVerifier
from shared.http.problems import Forbidden, Problem, Unauthorized, problem_type

log = structlog.get_logger(__name__)

_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT")


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("token verifier missing: was the app's lifespan run?")
    return verifier


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        # RFC 6750 §3.1: no error code when the request carried no credentials.
        raise Unauthorized(
            "missing bearer token",
            type=problem_type("unauthenticated"),
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        principal = await get_token_verifier(request).verify(credentials.credentials)
    except InvalidToken as exc:
        log.info("http.auth.token_rejected", reason=exc.reason)
        raise Unauthorized(
            exc.reason,
            type=problem_type("invalid-token"),
            headers={"WWW-Authenticate": _challenge(exc.reason)},
        ) from None
    except KeysUnavailable:
        raise Problem(
            503,
            "Authentication unavailable",
            type=problem_type("auth-unavailable"),
            detail="token signing keys could not be loaded; retry later",
            headers={"Retry-After": "5"},
        ) from None
    gate: PrincipalGate | None = getattr(request.app.state, "principal_gate", None)
    if gate is not None:
        try:
            allowed = await gate.allows(principal)
        except Exception as exc:  # the store behind the gate is down: fail closed, briefly
            log.warning("http.auth.gate_unavailable", error=type(exc).__name__)
            raise Problem(
                503,
                "Authentication unavailable",
                type=problem_type("auth-unavailable"),
                detail="the account check is unavailable; retry later",
                headers={"Retry-After": "5"},
            ) from None
        if not allowed:
            log.info("http.auth.principal_refused", user_id=principal.user_id)
            raise Unauthorized(
                "account deactivated",
                type=problem_type("deactivated"),
                headers={"WWW-Authenticate": _challenge("account deactivated")},
            )
    structlog.contextvars.bind_contextvars(user_id=principal.user_id)
    return principal


class PrincipalGate(Protocol):
    """Says whether a verified principal may still act (e.g. not deactivated)."""

    async def allows(self, principal: Principal) -> bool: ...


def _challenge(reason: str) -> str:
    # Reasons are our own fixed phrases, so they are safe inside the quoted string.
    return f'Bearer error="invalid_token", error_description="{reason}"'


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise Forbidden("admin role required", type=problem_type("forbidden"))
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]

"""Bearer JWT authentication for Canteen services."""

from shared.http.auth.deps import AdminDep, PrincipalDep, current_principal, require_admin
from shared.http.auth.dev import DevTokenSigner
from shared.http.auth.jwks import JwksCache, KeysUnavailable
from shared.http.auth.principal import ADMIN_ROLE, Principal
from shared.http.auth.verifier import InvalidToken, TokenVerifier

__all__ = [
    "ADMIN_ROLE",
    "AdminDep",
    "DevTokenSigner",
    "InvalidToken",
    "JwksCache",
    "KeysUnavailable",
    "Principal",
    "PrincipalDep",
    "TokenVerifier",
    "current_principal",
    "require_admin",
]

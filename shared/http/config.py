"""Plain-value configuration of the HTTP kit, built once at a composition root."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

MIB = 1024 * 1024
# HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
_MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """How bearer tokens are verified."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    dev_signing_secret: str | None = None
    leeway_seconds: int = 30
    jwks_cache_ttl_seconds: float = 300.0
    # A token with an unknown `kid` triggers at most one JWKS refetch per interval,
    # so a flood of forged kids cannot turn us into a load generator for the IdP.
    jwks_min_refresh_seconds: float = 10.0
    jwks_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise ValueError("issuer and audience must be non-empty")
        if not 0 <= self.leeway_seconds <= 300:
            raise ValueError("leeway_seconds must be between 0 and 300")
        secret = self.dev_signing_secret
        if secret is not None and len(secret.encode()) < _MIN_SECRET_BYTES:
            raise ValueError(f"dev_signing_secret must be at least {_MIN_SECRET_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Everything `create_app` needs; no field is read from the environment here."""

    service: str
    auth: AuthConfig
    cursor_secret: str
    dev_mode: bool = False
    cors_origins: Sequence[str] = field(default_factory=tuple)
    # Clients authenticate with a bearer header, not cookies, so credentials stay off.
    cors_allow_credentials: bool = False
    max_body_bytes: int = MIB
    # Scales every per-principal write limit (ratelimit.DEFAULT_LIMITS); 0 turns them off.
    rate_limit_multiplier: float = 1.0
    readiness_timeout_seconds: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        if not self.service:
            raise ValueError("service must be non-empty")
        if len(self.cursor_secret.encode()) < _MIN_SECRET_BYTES:
            raise ValueError(f"cursor_secret must be at least {_MIN_SECRET_BYTES} bytes")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if self.readiness_timeout_seconds <= 0:
            raise ValueError("readiness_timeout_seconds must be positive")
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError("a wildcard CORS origin cannot be combined with credentials")
        if not self.dev_mode and self.auth.jwks_url is None:
            raise ValueError("auth.jwks_url is required outside dev mode")
        if self.dev_mode and self.auth.jwks_url is None and self.auth.dev_signing_secret is None:
            raise ValueError("dev mode needs auth.dev_signing_secret or auth.jwks_url")

    @property
    def dev_secret(self) -> str | None:
        """The HS256 dev secret, which exists only in dev mode."""
        return self.auth.dev_signing_secret if self.dev_mode else None

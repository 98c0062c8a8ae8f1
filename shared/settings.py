"""Settings: one pydantic-settings class, prefix `CANTEEN_`, read once at a composition root.

Adapters and services never read the environment themselves: the composition root builds a
`CanteenSettings`, then passes plain values down. Unsafe combinations fail at start-up with
a message that names the variable to fix.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["dev", "test", "prod"]
Backend = Literal["embedded", "external"]


class CanteenSettings(BaseSettings):
    """Every `CANTEEN_*` setting. The README's configuration table mirrors this class."""

    # env_ignore_empty: `CANTEEN_X=` (as compose passes an unset `${CANTEEN_X:-}`) means default.
    model_config = SettingsConfigDict(
        env_prefix="CANTEEN_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    env: Environment = Field("dev", description="dev enables dev tokens and console logs")
    backend: Backend = Field(
        "embedded",
        description="embedded = SQLite log/store/index; external = Kafka/MongoDB/OpenSearch",
    )
    data_dir: Path = Field(Path("var"), description="where the embedded backends keep their files")
    host: str = Field("127.0.0.1", description="HTTP bind address")
    port: int = Field(8080, ge=1, le=65535, description="HTTP port")
    http_keepalive_seconds: int = Field(
        75,
        ge=1,
        le=3600,
        description="how long an idle HTTP connection stays open; keep it above the "
        "gateway's upstream keepalive_timeout (60 s), or the gateway may reuse a connection "
        "the service is closing",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="log level")
    log_format: Literal["auto", "console", "json"] = Field(
        "auto", description="auto = console in dev, JSON lines otherwise"
    )

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="Kafka SASL mechanism"
    )
    kafka_sasl_username: str | None = Field(None, description="Kafka SASL user")
    kafka_sasl_password: SecretStr | None = Field(None, description="Kafka SASL password")
    kafka_ca_file: Path | None = Field(None, description="CA bundle for Kafka TLS")
    bus_partitions: int = Field(3, ge=1, le=64, description="partitions per topic (both buses)")
    bus_retention_hours: float = Field(
        168, gt=0, description="embedded bus: hours an event is kept (Kafka: the topic's config)"
    )
    bus_dlq_retention_hours: float = Field(
        720, gt=0, description="embedded bus: hours a dead-lettered event is kept"
    )
    bus_namespace: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$",
        description="prefix of every topic and consumer group (several deployments, one Kafka)",
    )

    mongodb_uri: SecretStr = Field(
        SecretStr("mongodb://127.0.0.1:27017/"), description="MongoDB URI (may hold credentials)"
    )
    mongodb_database_prefix: str = Field(
        "canteen",
        pattern=r"^[a-z][a-z0-9_]{0,30}$",
        description="each service uses <prefix>_<service>",
    )

    opensearch_url: str = Field("http://127.0.0.1:9200", description="OpenSearch URL")
    opensearch_username: str | None = Field(None, description="OpenSearch basic-auth user")
    opensearch_password: SecretStr | None = Field(
        None, description="OpenSearch basic-auth password"
    )
    opensearch_verify_certs: bool = Field(True, description="verify OpenSearch TLS certificates")
    opensearch_ca_file: Path | None = Field(None, description="CA bundle for OpenSearch TLS")

    jwt_issuer: str = Field("canteen-dev", description="expected `iss` of access tokens")
    jwt_audience: str = Field("canteen", description="expected `aud` of access tokens")
    jwks_url: str | None = Field(
        None, description="identity provider JWKS URL (required outside dev)"
    )
    dev_signing_secret: SecretStr | None = Field(
        None,
        description="HS256 secret for dev tokens; dev only (generated under data_dir if unset)",
    )
    cursor_secret: SecretStr | None = Field(
        None, description="HMAC key for pagination cursors (required outside dev)"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated browser origins allowed by CORS"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="request body limit (413 above)")
    rate_limit_multiplier: float = Field(
        1.0,
        ge=0,
        description="scales the per-person write rate limits (posts, answers, comments, "
        "reactions, votes, follows, endorsements, groups); 0 turns them off",
    )

    activity_fanout_threshold: int = Field(
        10_000,
        ge=1,
        description="above this many followers a source is merged on read, not fanned out",
    )
    activity_timeline_cap: int = Field(
        800, ge=50, description="home timeline entries kept per person"
    )
    activity_feed_cache_mb: int = Field(
        32,
        ge=0,
        description="memory for rendered feed pages, kept until the store changes (embedded "
        "backend only; 0 turns it off)",
    )
    expertise_half_life_days: float = Field(
        180.0, gt=0, description="half-life of an expertise signal (accepted answer, vote, ...)"
    )
    notify_aggregation_window_seconds: int = Field(
        3600, ge=0, description="similar notifications within this window collapse into one group"
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server for notification email")
    smtp_port: int = Field(1025, ge=1, le=65535, description="SMTP port")
    smtp_username: str | None = Field(None, description="SMTP user")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_starttls: bool = Field(False, description="use STARTTLS")
    mail_from: str = Field("Canteen <canteen@localhost>", description="From: of notification email")
    public_base_url: str = Field(
        "http://127.0.0.1:8080", description="external URL of the API (links in email and push)"
    )
    vapid_private_key: SecretStr | None = Field(
        None, description="Web Push VAPID private key (PEM or base64url); push is off when unset"
    )
    vapid_subject: str = Field("mailto:admin@localhost", description="VAPID `sub` contact")
    digest_local_hour: int = Field(8, ge=0, le=23, description="local hour digests are sent")
    outbox_poll_seconds: float = Field(0.5, gt=0, description="outbox relay idle poll interval")
    consumer_max_attempts: int = Field(5, ge=1, description="handler attempts before dead-letter")
    gc_young_threshold: int = Field(
        10_000,
        ge=0,
        description="allocations between young garbage collections; 0 keeps Python's 700",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> CanteenSettings:
        if self.env != "dev":
            if self.dev_signing_secret is not None:
                raise ValueError(
                    "CANTEEN_DEV_SIGNING_SECRET is set outside dev mode: dev tokens would be "
                    "accepted in production. Unset it, or set CANTEEN_ENV=dev."
                )
            if not self.jwks_url:
                raise ValueError("CANTEEN_JWKS_URL is required outside dev mode")
            if self.cursor_secret is None or len(self.cursor_secret.get_secret_value()) < 32:
                raise ValueError(
                    "CANTEEN_CURSOR_SECRET (32+ characters) is required outside dev mode"
                )
            if "*" in self.cors_origins:
                raise ValueError(
                    "CANTEEN_CORS_ORIGINS must list origins, not '*', outside dev mode"
                )
        if self.kafka_sasl_mechanism and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "CANTEEN_KAFKA_SASL_MECHANISM needs CANTEEN_KAFKA_SASL_USERNAME/PASSWORD"
            )
        return self

    @property
    def dev_mode(self) -> bool:
        return self.env == "dev"

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and not self.dev_mode)

    def mongodb_database(self, service: str) -> str:
        return f"{self.mongodb_database_prefix}_{service}"


def load_settings(**overrides: object) -> CanteenSettings:
    """Read the environment once (a composition root calls this, nothing else does)."""
    return CanteenSettings(**overrides)  # type: ignore[arg-type]


def dev_secret(settings: CanteenSettings, name: str) -> str:
    """A per-machine random secret for dev mode, kept under data_dir so tokens survive restarts.

    Only the composition root calls this; it never runs outside dev mode.
    """
    if not settings.dev_mode:
        raise RuntimeError("dev secrets exist only in dev mode")
    path = settings.data_dir / "secrets" / f"{name}.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value

"""Settings fail fast, with a message naming the variable, on unsafe or invalid values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import CanteenSettings

SAFE_PROD = {
    "env": "prod",
    "jwks_url": "https://idp.example/jwks",
    "cursor_secret": "x" * 40,
}


def test_defaults_are_the_embedded_dev_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CANTEEN_ENV", "CANTEEN_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    settings = CanteenSettings()
    assert settings.backend == "embedded" and settings.dev_mode and not settings.json_logs


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANTEEN_BACKEND", "external")
    monkeypatch.setenv("CANTEEN_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = CanteenSettings()
    assert settings.backend == "external"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dev_signing_secret": "s" * 40}, "CANTEEN_DEV_SIGNING_SECRET"),
        ({"jwks_url": None}, "CANTEEN_JWKS_URL"),
        ({"cursor_secret": None}, "CANTEEN_CURSOR_SECRET"),
        ({"cursor_secret": "short"}, "CANTEEN_CURSOR_SECRET"),
        ({"cors_origins": ["*"]}, "CANTEEN_CORS_ORIGINS"),
        ({"backend": "postgres"}, "backend"),
        ({"port": 0}, "port"),
    ],
)
def test_unsafe_or_invalid_values_fail_fast(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CanteenSettings(**{**SAFE_PROD, **overrides})  # type: ignore[arg-type]


def test_a_safe_production_configuration_is_accepted() -> None:
    settings = CanteenSettings(**SAFE_PROD)  # type: ignore[arg-type]
    assert not settings.dev_mode and settings.json_logs


def test_secrets_do_not_leak_through_repr() -> None:
    settings = CanteenSettings(**{**SAFE_PROD, "mongodb_uri": "mongodb://u:hunter2@db/"})  # type: ignore[arg-type]
    assert "hunter2" not in repr(settings) and "x" * 40 not in repr(settings)


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # docker compose passes an unset `${CANTEEN_X:-}` as an empty string.
    monkeypatch.setenv("CANTEEN_SMTP_PORT", "")
    monkeypatch.setenv("CANTEEN_VAPID_PRIVATE_KEY", "")
    monkeypatch.setenv("CANTEEN_BUS_PARTITIONS", "")
    settings = CanteenSettings()
    assert settings.smtp_port == CanteenSettings.model_fields["smtp_port"].default
    assert settings.vapid_private_key is None
    assert settings.bus_partitions == CanteenSettings.model_fields["bus_partitions"].default

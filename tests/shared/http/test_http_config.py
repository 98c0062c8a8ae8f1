"""HttpConfig refuses unsafe or unusable settings at the composition root."""

from __future__ import annotations

from typing import Any

import pytest
from http_kit_support import AUDIENCE, CURSOR_SECRET, DEV_SECRET, ISSUER

from shared.http import AuthConfig, HttpConfig

JWKS = "https://id.canteen.test/jwks.json"


def config(**overrides: Any) -> HttpConfig:
    fields: dict[str, Any] = {
        "service": "demo",
        "auth": AuthConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS),
        "cursor_secret": CURSOR_SECRET,
    }
    return HttpConfig(**(fields | overrides))


def test_defaults() -> None:
    built = config(cors_origins=["https://a.test"])

    assert built.max_body_bytes == 1024 * 1024
    assert built.auth.leeway_seconds == 30
    assert built.cors_origins == ("https://a.test",)
    assert built.dev_secret is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auth": AuthConfig(issuer=ISSUER, audience=AUDIENCE)}, "jwks_url is required"),
        (
            {"dev_mode": True, "auth": AuthConfig(issuer=ISSUER, audience=AUDIENCE)},
            "dev mode needs",
        ),
        ({"cursor_secret": "short"}, "cursor_secret"),
        ({"cors_origins": ["*"], "cors_allow_credentials": True}, "wildcard"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"service": ""}, "service"),
    ],
)
def test_unsafe_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**overrides)


def test_short_dev_secrets_and_wild_leeways_are_refused() -> None:
    with pytest.raises(ValueError, match="dev_signing_secret"):
        AuthConfig(issuer=ISSUER, audience=AUDIENCE, dev_signing_secret="tiny")
    with pytest.raises(ValueError, match="leeway"):
        AuthConfig(issuer=ISSUER, audience=AUDIENCE, leeway_seconds=3600)


def test_the_dev_secret_is_ignored_outside_dev_mode() -> None:
    auth = AuthConfig(
        issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS, dev_signing_secret=DEV_SECRET
    )

    assert config(auth=auth).dev_secret is None
    assert config(auth=auth, dev_mode=True).dev_secret == DEV_SECRET

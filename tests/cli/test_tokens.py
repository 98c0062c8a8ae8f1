"""`canteen admin tokens issue` (dev) and `scim-token create|list|revoke`."""

from __future__ import annotations

import asyncio

import jwt
import pytest

from services.profiles.scim.credentials import Credentials
from shared.backends import make_store
from shared.settings import CanteenSettings
from tests.cli.conftest import Invoke
from tests.conftest import DEV_SECRET


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)  # no backend involved
def test_dev_token_is_signed_with_the_stacks_secret(
    settings: CanteenSettings, invoke: Invoke
) -> None:
    result = invoke("admin", "tokens", "issue", "ana", "--role", "admin", "--name", "Ana Silva")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    claims = jwt.decode(
        token,
        DEV_SECRET,
        algorithms=["HS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    assert (claims["sub"], claims["roles"], claims["name"]) == ("ana", ["admin"], "Ana Silva")


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)  # no backend involved
def test_dev_token_is_refused_outside_dev_mode(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANTEEN_ENV", "prod")
    monkeypatch.delenv("CANTEEN_DEV_SIGNING_SECRET")
    monkeypatch.setenv("CANTEEN_JWKS_URL", "https://idp.example.com/jwks")
    result = invoke("admin", "tokens", "issue", "ana")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "dev mode" in result.stderr


async def _verify(settings: CanteenSettings, token: str) -> bool:
    store = make_store(settings, "profiles")
    try:
        return await Credentials(store).verify(token) is not None
    finally:
        await store.close()


def test_scim_token_lifecycle(settings: CanteenSettings, invoke: Invoke) -> None:
    created = invoke("admin", "scim-token", "create", "Entra ID production")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("canteen_scim_")
    assert asyncio.run(_verify(settings, token))  # what /scim/v2 checks on every request

    listed = invoke("admin", "scim-token", "list")
    assert listed.exit_code == 0, listed.output
    assert "Entra ID production" in listed.stderr and "live" in listed.stderr
    assert token not in listed.output  # shown once, never again
    credential_id = next(
        line.split()[1] for line in listed.stderr.splitlines() if "Entra ID production" in line
    )

    revoked = invoke("admin", "scim-token", "revoke", credential_id)
    assert revoked.exit_code == 0, revoked.output
    assert not asyncio.run(_verify(settings, token))
    assert "revoked" in invoke("admin", "scim-token", "list").stderr

    missing = invoke("admin", "scim-token", "revoke", "no-such-id")
    assert missing.exit_code == 1
    assert "no SCIM token" in missing.stderr

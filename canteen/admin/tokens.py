"""`canteen admin tokens issue` (dev) and `canteen admin scim-token create|list|revoke`."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from canteen.admin.common import console, fail, quiet_settings, run

if TYPE_CHECKING:
    from services.profiles.scim.credentials import Credentials
    from shared.settings import CanteenSettings

tokens = typer.Typer(help="Access tokens for local development.", no_args_is_help=True)
scim = typer.Typer(
    help=(
        "Provisioning tokens for the identity provider's SCIM client (Entra ID, Okta, "
        "Keycloak). Writes the profiles store directly, so it works before anyone can sign in."
    ),
    no_args_is_help=True,
)
ADMIN_ACTOR = "canteen-admin"
T = TypeVar("T")


def register(admin: typer.Typer) -> None:
    admin.add_typer(tokens, name="tokens")
    admin.add_typer(scim, name="scim-token")


@tokens.command("issue")
def issue(
    sub: Annotated[str, typer.Argument(help="the user id (JWT `sub`), e.g. ana")],
    role: Annotated[
        list[str] | None, typer.Option("--role", help="a role claim; repeat for more, e.g. admin")
    ] = None,
    name: Annotated[str | None, typer.Option(help="display name claim")] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds (max one day)", min=1)] = 3600,
) -> None:
    """Print a dev-mode access token for SUB on stdout (the same one POST /api/v1/dev/token gives).

    Only in dev mode (CANTEEN_ENV=dev) and without CANTEEN_JWKS_URL: it signs with the
    dev secret the running stack uses (CANTEEN_DEV_SIGNING_SECRET, or the one generated
    under CANTEEN_DATA_DIR), so run it with the stack's environment. Use it as
    `curl -H "Authorization: Bearer $(canteen admin tokens issue ana)" ...`.
    """
    from shared.http.auth.dev import MAX_DEV_TTL_SECONDS, DevTokenSigner
    from shared.settings import dev_secret

    settings = quiet_settings()
    if not settings.dev_mode or settings.jwks_url:
        raise fail(
            "dev tokens exist only in dev mode without CANTEEN_JWKS_URL; "
            "in production tokens come from the identity provider"
        )
    if ttl > MAX_DEV_TTL_SECONDS:
        raise fail(f"--ttl is at most {MAX_DEV_TTL_SECONDS} seconds")
    secret = settings.dev_signing_secret
    signer = DevTokenSigner(
        secret=secret.get_secret_value() if secret else dev_secret(settings, "dev-signing"),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    sys.stdout.write(signer.sign(sub, role or [], name=name, ttl_seconds=ttl) + "\n")


async def _with_credentials(
    settings: CanteenSettings, work: Callable[[Credentials], Awaitable[T]]
) -> T:
    from services.profiles.scim.credentials import Credentials
    from shared.backends import make_store

    store = make_store(settings, "profiles")
    try:
        credentials = Credentials(store)
        await credentials.prepare()
        return await work(credentials)
    finally:
        await store.close()


@scim.command("create")
def create(
    name: Annotated[str, typer.Argument(help="what the token is for, e.g. 'Entra ID production'")],
) -> None:
    """Issue a SCIM provisioning token; it is printed once on stdout, store it in the IdP now.

    The IdP sends it as `Authorization: Bearer <token>` to /scim/v2. Only its hash is
    kept; `scim-token list` shows the id to revoke it by.
    """
    if not name.strip() or len(name) > 200:
        raise fail("NAME must be 1 to 200 characters")
    settings = quiet_settings()

    async def work(credentials: Credentials) -> tuple[dict[str, Any], str]:
        return await credentials.issue(name=name.strip(), by=ADMIN_ACTOR)

    doc, token = run(_with_credentials(settings, work))
    console.print(f"created SCIM token [bold]{doc['_id']}[/bold] ({doc['name']})")
    sys.stdout.write(token + "\n")


@scim.command("list")
def list_tokens() -> None:
    """SCIM provisioning tokens, newest first: id, name, who created it, revoked or live."""
    settings = quiet_settings()

    async def work(credentials: Credentials) -> list[dict[str, Any]]:
        return await credentials.all()

    docs = run(_with_credentials(settings, work))
    table = Table("id", "name", "created", "by", "state")
    for doc in docs:
        state = f"revoked {doc['revoked_at']:%Y-%m-%d %H:%M}" if doc["revoked"] else "live"
        table.add_row(
            doc["_id"], doc["name"], f"{doc['created_at']:%Y-%m-%d %H:%M}", doc["created_by"], state
        )
    console.print(table)


@scim.command("revoke")
def revoke(
    credential_id: Annotated[str, typer.Argument(help="the id shown by create or list")],
) -> None:
    """Revoke a SCIM provisioning token at once (the next SCIM request with it gets 401)."""
    from services.profiles.scim.credentials import CredentialNotFound

    settings = quiet_settings()

    async def work(credentials: Credentials) -> None:
        await credentials.revoke(credential_id)

    try:
        run(_with_credentials(settings, work))
    except CredentialNotFound:
        raise fail(f"no SCIM token {credential_id}", code=1) from None
    console.print(f"revoked SCIM token {credential_id}")

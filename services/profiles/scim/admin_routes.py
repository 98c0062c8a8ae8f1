"""Admins issue, list and revoke the identity provider's provisioning tokens.

No Idempotency-Key here on purpose: a replayable response would keep the raw token in
the store for a day, and the token must exist nowhere but in the admin's hands.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from services.profiles.scim import examples
from services.profiles.scim.credentials import CredentialNotFound, Credentials
from shared.http import AdminDep, NotFound

ADMIN_PREFIX = "/api/v1/admin/scim-tokens"


class CredentialIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.CREDENTIAL_IN]}
    )

    name: str = Field(min_length=1, max_length=200, description="e.g. 'Entra ID production'")


class CredentialOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CREDENTIAL]})

    id: str
    name: str
    created_at: datetime
    created_by: str
    revoked: bool
    revoked_at: datetime | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "CredentialOut":
        return cls.model_validate({**doc, "id": doc["_id"]})


class IssuedCredential(CredentialOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ISSUED]})

    token: str = Field(description="the bearer token; shown once, store it in the IdP now")


class CredentialList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CREDENTIALS]})

    items: list[CredentialOut]


@contextmanager
def domain_errors() -> Iterator[None]:
    try:
        yield
    except CredentialNotFound as exc:
        raise NotFound(f"credential {exc} not found") from exc


def build_admin_router(credentials: Credentials) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["scim"])

    def get_credentials() -> Credentials:
        return credentials

    Creds = Annotated[Credentials, Depends(get_credentials)]

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedCredential)
    async def issue(body: CredentialIn, admin: AdminDep, creds: Creds) -> IssuedCredential:
        """Issue a SCIM provisioning token (admins; the token is shown once)."""
        doc, token = await creds.issue(name=body.name, by=admin.user_id)
        return IssuedCredential.model_validate({**doc, "id": doc["_id"], "token": token})

    @router.get("", response_model=CredentialList)
    async def list_all(admin: AdminDep, creds: Creds) -> CredentialList:
        """SCIM provisioning credentials, newest first (never their tokens)."""
        return CredentialList(items=[CredentialOut.of(d) for d in await creds.all()])

    @router.delete("/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def revoke(credential_id: str, admin: AdminDep, creds: Creds) -> None:
        """Revoke a SCIM provisioning token at once."""
        with domain_errors():
            await creds.revoke(credential_id)

    return router

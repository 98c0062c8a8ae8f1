"""Provisioning credentials: long random bearer tokens, issued by admins, stored hashed.

Only a SHA-256 of each token is kept. A token carries 256 random bits, so nobody can
guess one from its hash: a slow or salted hash protects low-entropy secrets (passwords),
and would only slow down every SCIM request here. An unsalted hash also lets a request
find its credential with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from shared.ids import new_id
from shared.store.port import DocumentStore

SCIM_CREDENTIALS = "scim_credentials"
TOKEN_PREFIX = "canteen_scim_"  # noqa: S105 - a marker, not a secret
MAX_CREDENTIALS = 200


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CredentialNotFound(LookupError):
    """No credential with this id."""


class Credentials:
    def __init__(self, store: DocumentStore) -> None:
        self._docs = store.collection(SCIM_CREDENTIALS)

    async def prepare(self) -> None:
        await self._docs.create_index([("token_hash", 1)], unique=True, name="scim_token_hash")

    async def issue(self, *, name: str, by: str) -> tuple[dict[str, Any], str]:
        """A new credential and its token (shown once, never stored)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        doc = {
            "_id": new_id(),
            "name": name,
            "token_hash": token_hash(token),
            "created_at": _now(),
            "created_by": by,
            "revoked": False,
            "revoked_at": None,
        }
        await self._docs.insert_one(doc)
        return doc, token

    async def all(self) -> list[dict[str, Any]]:
        return await self._docs.find(
            {}, sort=[("created_at", -1), ("_id", -1)], limit=MAX_CREDENTIALS
        )

    async def revoke(self, credential_id: str) -> None:
        result = await self._docs.update_one(
            {"_id": credential_id, "revoked": False},
            {"$set": {"revoked": True, "revoked_at": _now()}},
        )
        if result.matched_count == 0 and await self._docs.find_one({"_id": credential_id}) is None:
            raise CredentialNotFound(credential_id)

    async def verify(self, token: str) -> dict[str, Any] | None:
        """The live credential of a presented token, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return await self._docs.find_one({"token_hash": token_hash(token), "revoked": False})


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)

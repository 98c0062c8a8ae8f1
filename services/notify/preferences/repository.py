"""Preferences persistence: one document per user, one for the org's defaults."""

from __future__ import annotations

import time
from typing import Any

from services.notify.preferences.domain import address_of
from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore
from shared.store.reads import find_by_ids

PREFERENCES = "preferences"
ORG_PREFERENCES = "org_preferences"
ORG_ID = "org"
# The work email from the directory (profiles' person events): where mail goes by default.
DIRECTORY_EMAIL = "directory_email"
# Org defaults change rarely and are read for every notification: cache them briefly.
ORG_CACHE_SECONDS = 5.0


def revision_of(doc: dict[str, Any] | None) -> int:
    """A person's preferences version: 0 before any was saved."""
    return int((doc or {}).get("revision", 0))


class PreferenceRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._prefs = store.collection(PREFERENCES)
        self._org = store.collection(ORG_PREFERENCES)
        self._org_cache: tuple[float, dict[str, Any] | None] | None = None

    async def get(self, user_id: str) -> dict[str, Any] | None:
        return await self._prefs.find_one({"_id": user_id})

    async def many(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        return await find_by_ids(self._prefs, user_ids)

    async def put(
        self, user_id: str, doc: dict[str, Any], *, expected_revision: int | None = None
    ) -> dict[str, Any] | None:
        """Replace a person's preferences; every change bumps `revision` (the ETag).

        `expected_revision` (from `If-Match`): write only if the stored preferences are
        still at it, else None. So an app saving a form read before a one-click
        unsubscribe cannot silently switch the mail back on.
        """
        fields = {k: v for k, v in doc.items() if k not in ("_id", "revision")}
        filter: dict[str, Any] = {"_id": user_id}
        if expected_revision is not None:
            filter["revision"] = expected_revision if expected_revision else {"$exists": False}
        try:
            saved = await self._prefs.find_one_and_update(
                filter, {"$set": fields, "$inc": {"revision": 1}}, upsert=True
            )
        except DuplicateKeyError:
            return None  # there, but at another revision than expected
        assert saved is not None
        return saved

    async def set_directory_email(self, user_id: str, address: str | None) -> bool:
        """The work email the directory gives for `user_id` (from the person's profile
        events). Kept beside what the person saved, not in it: saving preferences never
        touches it, and it changes no `revision` (what `If-Match` protects is theirs).

        True when mail had nowhere to go before and now has (see `address_of`)."""
        if address is None:
            await self._prefs.update_one({"_id": user_id}, {"$set": {DIRECTORY_EMAIL: None}})
            return False
        before = await self._prefs.find_one_and_update(
            {"_id": user_id}, {"$set": {DIRECTORY_EMAIL: address}}, upsert=True, return_new=False
        )
        return not address_of(before)

    async def org(self) -> dict[str, Any] | None:
        cached = self._org_cache
        if cached is not None and time.monotonic() - cached[0] < ORG_CACHE_SECONDS:
            return cached[1]
        doc = await self._org.find_one({"_id": ORG_ID})
        self._org_cache = (time.monotonic(), doc)
        return doc

    async def put_org(self, doc: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in doc.items() if k != "_id"}
        await self._org.update_one({"_id": ORG_ID}, {"$set": fields}, upsert=True)
        self._org_cache = None
        return {"_id": ORG_ID, **fields}

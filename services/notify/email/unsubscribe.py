"""One-click unsubscribe (RFC 8058): a signed token turns one kind of mail off, no login."""

from __future__ import annotations

import structlog

from services.notify.email import tokens
from services.notify.preferences.domain import CRITICAL_TYPES, TYPES, pref_key
from services.notify.preferences.repository import PREFERENCES
from shared.store.port import DocumentStore

log = structlog.get_logger()


class BadLink(ValueError):
    """Forged, malformed, or naming nothing we send."""


class CannotTurnOff(ValueError):
    """A genuine link for a critical type (announcements): its mail always goes out, so
    turning it off would only pretend. No mail we send carries such a link any more; one
    in an older mail is answered with this."""


def describe(kind: str) -> str:
    if kind == tokens.DIGEST:
        return "email digests"
    return f"immediate email about “{kind}” notifications"


class Unsubscriber:
    def __init__(self, store: DocumentStore, secret: str) -> None:
        self._prefs = store.collection(PREFERENCES)
        self._secret = secret

    def read(self, token: str) -> tuple[str, str]:
        try:
            user_id, kind = tokens.verify(self._secret, token)
        except tokens.InvalidToken as exc:
            raise BadLink(str(exc)) from exc
        if kind != tokens.DIGEST and kind not in TYPES:
            raise BadLink("unknown kind")
        if kind in CRITICAL_TYPES:
            raise CannotTurnOff(kind)
        return user_id, kind

    async def apply(self, token: str) -> str:
        """Turn the mail off (idempotent); return what was turned off."""
        user_id, kind = self.read(token)
        # Field-level update: the rest of the person's preferences stay as they are.
        field = "digest" if kind == tokens.DIGEST else f"channels.{pref_key(kind)}.email"
        value: str | bool = "off" if kind == tokens.DIGEST else False
        # A new revision: an app's form saved from before this (If-Match) gets a 412.
        await self._prefs.update_one(
            {"_id": user_id}, {"$set": {field: value}, "$inc": {"revision": 1}}, upsert=True
        )
        log.info("notify.email.unsubscribed", user_id=user_id, kind=kind)
        return kind

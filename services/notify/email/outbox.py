"""The `email_outbox` collection: every mail to send, with attempts and the next try.

A mail is written here before any SMTP connection is made, under an id derived from what
it is about (`n:<notification id>`, `d:<user>:<period>`), so a restarted job or a
redelivered event can never queue it twice. A sender claims one due mail at a time with a
lease (a compare-and-set), so replicas never send the same mail concurrently; a lease left
by a crashed sender expires and the mail is tried again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

EMAIL_OUTBOX = "email_outbox"
NOTIFICATIONS = "notifications"  # the inbox's (read only here)
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 12


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s ... capped at one hour."""
    return timedelta(seconds=min(2 * 2 ** max(attempts - 1, 0), 3600))


class EmailOutbox:
    def __init__(self, store: DocumentStore) -> None:
        self._mails = store.collection(EMAIL_OUTBOX)
        self._notifications = store.collection(NOTIFICATIONS)

    async def prepare(self) -> None:
        await self._mails.create_index([("state", 1), ("next_attempt_at", 1)])
        await self._mails.create_index([("user_id", 1), ("created_at", -1)])

    async def enqueue(
        self,
        mail_id: str,
        *,
        kind: str,
        user_id: str,
        to: str,
        message: str,
        not_before: datetime,
        now: datetime,
        about: str | None = None,
    ) -> bool:
        """Queue a mail once; False when it was already queued (or sent)."""
        try:
            await self._mails.insert_one(
                {
                    "_id": mail_id,
                    "kind": kind,
                    "user_id": user_id,
                    "about": about,
                    "to": to,
                    "message": message,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": not_before,
                    "lease_until": None,
                    "created_at": now,
                    "sent_at": None,
                    "last_error": None,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def claim(self, now: datetime) -> dict[str, Any] | None:
        """Lease the next due mail (pending, or sending with an expired lease)."""
        due = {
            "$or": [
                {"state": "pending", "next_attempt_at": {"$lte": now}},
                {"state": "sending", "lease_until": {"$lte": now}},
            ]
        }
        return await self._mails.find_one_and_update(
            due,
            {"$set": {"state": "sending", "lease_until": now + LEASE}},
            sort=[("next_attempt_at", 1), ("_id", 1)],
        )

    async def taken_back(self, mail: dict[str, Any]) -> bool:
        """Whether the notification an immediate mail is about was hidden since it was
        queued (its post or item deleted, its group deleted or turned private): a mail
        waiting for quiet hours to end must not tell what the inbox no longer shows."""
        about = mail.get("about")
        if mail.get("kind") != "immediate" or not about:
            return False
        doc = await self._notifications.find_one({"_id": about})
        return bool(doc and doc.get("hidden"))

    async def withdrawn(self, mail: dict[str, Any], now: datetime) -> None:
        """Never sent: what it was about is gone (`taken_back`)."""
        await self._mails.update_one(
            _own_lease(mail),
            {"$set": {"state": "withdrawn", "withdrawn_at": now, "lease_until": None}},
        )

    async def sent(self, mail: dict[str, Any], now: datetime) -> None:
        await self._mails.update_one(
            _own_lease(mail),
            {
                "$set": {"state": "sent", "sent_at": now, "lease_until": None, "message": None},
                "$inc": {"attempts": 1},
            },
        )

    async def failed(self, mail: dict[str, Any], error: str, now: datetime) -> str:
        """Schedule the next attempt with backoff; give up (kept, state `failed`) at the cap."""
        attempts = int(mail.get("attempts", 0)) + 1
        state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        await self._mails.update_one(
            _own_lease(mail),
            {
                "$set": {
                    "state": state,
                    "attempts": attempts,
                    "next_attempt_at": now + backoff(attempts),
                    "lease_until": None,
                    "last_error": error[:500],
                }
            },
        )
        return state

    async def unsent(self, mail: dict[str, Any], error: str, retry_at: datetime) -> None:
        """The mail server could not be reached: back to pending, due at `retry_at` (when
        the sender tries the server again; mails due earlier go first, so the next probe is
        another mail). Not an attempt of this mail: an outage does not use up its attempts."""
        await self._mails.update_one(
            _own_lease(mail),
            {
                "$set": {
                    "state": "pending",
                    "next_attempt_at": retry_at,
                    "lease_until": None,
                    "last_error": error[:500],
                }
            },
        )

    async def get(self, mail_id: str) -> dict[str, Any] | None:
        return await self._mails.find_one({"_id": mail_id})


def _own_lease(claimed: dict[str, Any]) -> dict[str, Any]:
    """Finish only under the lease this sender holds: once it expired and another sender
    claimed the item, that sender's outcome is the one that counts (a late "failed" must
    not re-queue what the other has just sent, nor a late result overwrite its own)."""
    return {"_id": claimed["_id"], "state": "sending", "lease_until": claimed["lease_until"]}

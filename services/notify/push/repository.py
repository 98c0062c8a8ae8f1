"""`devices` (a person's push subscriptions) and `push_queue` (pushes to deliver)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from shared.store.errors import DuplicateKeyError
from shared.store.port import DocumentStore

DEVICES = "devices"
PUSH_QUEUE = "push_queue"
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8
MAX_DEVICES = 20


def device_id(endpoint: str) -> str:
    """One document per endpoint: registering the same browser again updates it."""
    return hashlib.sha256(endpoint.encode()).hexdigest()[:32]


class DeviceRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._devices = store.collection(DEVICES)

    async def prepare(self) -> None:
        await self._devices.create_index([("user_id", 1), ("created_at", -1)])

    async def register(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Insert, or take over the endpoint (a browser re-subscribing, or changing hands)."""
        fields = {k: v for k, v in doc.items() if k not in ("_id", "created_at")}
        return (
            await self._devices.find_one_and_update(
                {"_id": doc["_id"]},
                {"$set": fields, "$setOnInsert": {"created_at": doc["created_at"]}},
                upsert=True,
            )
            or doc
        )

    async def within_limit(self, user_id: str) -> bool:
        """After registering a device: does the person have at most MAX_DEVICES devices?

        Registrations check the count and then write, so several at once can pass the
        check together; each then counts again, after its own write, and a refused one
        revokes itself. The last one written sees every earlier one, so no more than
        MAX_DEVICES ever stay. Racers may all be refused when they all write before any
        counts (each sees the others): the limit never yields, a registration may have to
        be repeated. Ranking by `created_at` instead let three of four racers stay on
        FerretDB: a device stamped earlier but written later displaced one already
        accepted.
        """
        return await self._devices.count({"user_id": user_id}) <= MAX_DEVICES

    async def count(self, user_id: str) -> int:
        return await self._devices.count({"user_id": user_id})

    async def mine(self, user_id: str) -> list[dict[str, Any]]:
        return await self._devices.find(
            {"user_id": user_id}, sort=[("created_at", -1), ("_id", 1)], limit=MAX_DEVICES
        )

    async def revoke(self, user_id: str, id_: str) -> bool:
        return await self._devices.delete_one({"_id": id_, "user_id": user_id}) == 1

    async def prune(self, id_: str) -> None:
        await self._devices.delete_one({"_id": id_})

    async def succeeded(self, id_: str, at: datetime) -> None:
        await self._devices.update_one({"_id": id_}, {"$set": {"last_success_at": at}})


class PushQueue:
    def __init__(self, store: DocumentStore) -> None:
        self._queue = store.collection(PUSH_QUEUE)

    async def prepare(self) -> None:
        await self._queue.create_index([("state", 1), ("next_attempt_at", 1)])

    async def enqueue(self, doc: dict[str, Any]) -> bool:
        try:
            await self._queue.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def claim(self, now: datetime) -> dict[str, Any] | None:
        due = {
            "$or": [
                {"state": "pending", "next_attempt_at": {"$lte": now}},
                {"state": "sending", "lease_until": {"$lte": now}},
            ]
        }
        return await self._queue.find_one_and_update(
            due,
            {"$set": {"state": "sending", "lease_until": now + LEASE}},
            sort=[("next_attempt_at", 1), ("_id", 1)],
        )

    async def finish(
        self, item: dict[str, Any], *, delivered: list[str], retry: bool, now: datetime
    ) -> str:
        attempts = int(item.get("attempts", 0)) + 1
        state = (
            "pending" if retry and attempts < MAX_ATTEMPTS else ("done" if not retry else "failed")
        )
        delay = timedelta(seconds=min(2 * 2 ** (attempts - 1), 3600))
        await self._queue.update_one(
            _own_lease(item),
            {
                "$set": {
                    "state": state,
                    "attempts": attempts,
                    "next_attempt_at": now + delay,
                    "lease_until": None,
                    "delivered": delivered,
                }
            },
        )
        return state


def _own_lease(claimed: dict[str, Any]) -> dict[str, Any]:
    """Finish only under the lease this sender holds: once it expired and another sender
    claimed the item, that sender's outcome is the one that counts (a late "failed" must
    not re-queue what the other has just sent, nor a late result overwrite its own)."""
    return {"_id": claimed["_id"], "state": "sending", "lease_until": claimed["lease_until"]}

"""Push delivery: new notifications -> `decide` -> `push_queue` -> each of the person's devices.

The inbox queues a notification for push (`push_routing`, see `services/notify/routing.py`)
when it decided `now` or `later`; this worker decides again with the preferences of the
moment and queues the push under the notification's id (a repeat is a no-op). Quiet
hours (`later`) hold the push until they end. A device answered 404/410 is deleted; 429/5xx/network
errors retry with backoff, only for the devices not reached yet. A 413 (payload too large)
says nothing about the subscription: the device stays, and that payload is not sent to it
again.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import structlog

from services.notify.email.content import safe_text
from services.notify.preferences.domain import decide
from services.notify.preferences.repository import PreferenceRepository
from services.notify.push.provider import Outcome, PushProvider
from services.notify.push.repository import DeviceRepository, PushQueue
from services.notify.routing import IdlePause, RoutingQueue, migrate_flags, route_batch
from shared.store.port import DocumentStore

log = structlog.get_logger()
NOTIFICATIONS = "notifications"
BATCH = 100
TTL_SECONDS = 24 * 3600


def payload(notification: dict[str, Any], base_url: str) -> bytes:
    """What the service worker shows: safe text only (nothing private on a lock screen)."""
    text = safe_text(notification, base_url)
    body = {
        "id": notification["_id"],
        "type": notification.get("type"),
        "title": text.title,
        "body": text.body,
        "url": text.link,
        "tag": notification.get("group_id"),
    }
    return json.dumps(body, separators=(",", ":")).encode()


class PushDelivery:
    def __init__(
        self,
        store: DocumentStore,
        devices: DeviceRepository,
        queue: PushQueue,
        prefs: PreferenceRepository,
        provider: PushProvider,
        *,
        base_url: str,
    ) -> None:
        self._store = store
        self._notifications = store.collection(NOTIFICATIONS)
        self._routing = RoutingQueue(store, "push")
        self._devices = devices
        self._queue = queue
        self._prefs = prefs
        self._provider = provider
        self._base = base_url

    async def prepare(self) -> None:
        await migrate_flags(self._store, "push")

    async def run(self) -> None:
        pause = IdlePause()
        try:
            while True:
                try:
                    routed = await self.intake()
                    found, more = routed > 0, routed == BATCH
                    while await self.deliver_due():
                        found = more = True
                except Exception:
                    log.exception("notify.push.worker_failed")
                    found = more = False
                if wait := pause.after(found=found, more=more):
                    await asyncio.sleep(wait)
        finally:
            await self._provider.close()

    async def intake(self, now: datetime | None = None) -> int:
        """Route one batch of queued notifications (one preferences read for the batch)."""
        return await route_batch(
            self._routing,
            self._notifications,
            self._prefs,
            decide=self._route,
            limit=BATCH,
            now=now,
        )

    async def _route(
        self,
        notification: dict[str, Any],
        prefs: dict[str, Any] | None,
        org: dict[str, Any] | None,
        now: datetime | None,
    ) -> str:
        """The push state of `notification`, queueing it when it goes out (now or later)."""
        now = now or datetime.now(UTC)
        user_id = notification["recipient_id"]
        delivery = decide(prefs, org, notification, now)
        state = "off"
        if delivery.push != "off":
            await self._queue.enqueue(
                {
                    "_id": notification["_id"],
                    "user_id": user_id,
                    "payload": payload(notification, self._base).decode(),
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": delivery.push_at or now,
                    "lease_until": None,
                    "delivered": [],
                    "created_at": now,
                }
            )
            state = "queued"
        log.info("notify.push.routed", notification_id=notification["_id"], state=state)
        return state

    async def deliver_due(self, now: datetime | None = None) -> bool:
        item = await self._queue.claim(now or datetime.now(UTC))
        if item is None:
            return False
        # Held for quiet hours, and hidden since (its post deleted, its group deleted or
        # turned private): the phone must not show what the inbox no longer does.
        about = await self._notifications.find_one({"_id": item["_id"]})
        if about is not None and about.get("hidden"):
            await self._queue.finish(item, delivered=[], retry=False, now=datetime.now(UTC))
            log.info("notify.push.withdrawn", notification_id=item["_id"])
            return True
        delivered = list(item.get("delivered") or [])
        retry = False
        for device in await self._devices.mine(item["user_id"]):
            if device["_id"] in delivered:
                continue
            result = await self._provider.send(device, item["payload"].encode(), ttl=TTL_SECONDS)
            if result.outcome is Outcome.DELIVERED:
                delivered.append(device["_id"])
                await self._devices.succeeded(device["_id"], datetime.now(UTC))
            elif result.outcome is Outcome.GONE:
                await self._devices.prune(device["_id"])
                log.info("notify.push.device_pruned", device_id=device["_id"], status=result.status)
            elif result.outcome is Outcome.REFUSED:
                # Done with this device: a retry would send the same payload, refused again.
                delivered.append(device["_id"])
                log.warning(
                    "notify.push.payload_refused",
                    notification_id=item["_id"],
                    device_id=device["_id"],
                    status=result.status,
                    size=len(item["payload"]),
                )
            else:
                retry = True
                log.warning("notify.push.retry", device_id=device["_id"], status=result.status)
        state = await self._queue.finish(
            item, delivered=delivered, retry=retry, now=datetime.now(UTC)
        )
        log.info(
            "notify.push.delivered",
            notification_id=item["_id"],
            devices=len(delivered),
            state=state,
        )
        return True

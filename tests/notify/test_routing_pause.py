"""Routing helpers (services/notify/routing.py): the workers' pause between rounds, the
routing queues, and the start-up step that queues what an earlier version left flagged."""

from __future__ import annotations

from services.notify.routing import IdlePause, RoutingQueue, initial_email, migrate_flags
from shared.settings import CanteenSettings
from tests.support import service_store


def test_an_idle_worker_backs_off_and_wakes_up_at_once_when_work_appears() -> None:
    pause = IdlePause(first=0.25, longest=2.0)

    assert [pause.after(found=False) for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert pause.after(found=True, more=True) == 0.0  # a full batch: straight on
    assert pause.after(found=True) == 0.25  # some work, none left: the short pause again
    assert pause.after(found=False) == 0.5


def test_immediate_email_without_an_address_is_final_at_creation() -> None:
    assert initial_email("now", {"email_address": "ana@example.org"}) == "now"
    assert initial_email("now", {"time_zone": "UTC"}) == "no_address"
    assert initial_email("now", None) == "no_address"
    assert initial_email("digest", None) == "digest"


async def test_a_queue_takes_only_what_its_channel_routes_and_once(
    settings: CanteenSettings,
) -> None:
    async with service_store(settings, "notify") as store:
        email, push = RoutingQueue(store, "email"), RoutingQueue(store, "push")
        docs = [
            {"_id": "a", "recipient_id": "ana", "channels": {"email": "now", "push": "later"}},
            {"_id": "b", "recipient_id": "bo", "channels": {"email": "digest", "push": "now"}},
            {"_id": "c", "recipient_id": "cy", "channels": {"email": "no_address", "push": "off"}},
        ]
        for queue in (email, push):
            await queue.add(docs)
            await queue.add(docs[:2])  # a redelivery: nothing twice

        assert [e["_id"] for e in await email.take(10)] == ["a"]
        assert sorted(e["_id"] for e in await push.take(10)) == ["a", "b"]
        await push.done(["a"])
        assert [e["_id"] for e in await push.take(10)] == ["b"]


async def test_notifications_an_earlier_version_left_flagged_are_queued_once(
    settings: CanteenSettings,
) -> None:
    async with service_store(settings, "notify") as store:
        notifications = store.collection("notifications")
        await notifications.insert_many(
            [
                {"_id": "old", "recipient_id": "ana", "unrouted_email": True},
                {"_id": "older", "recipient_id": "bo", "channels": {"email": "pending"}},
                {"_id": "done", "recipient_id": "cy", "unrouted_email": False},
                {"_id": "digest", "recipient_id": "dee", "channels": {"email": "digest"}},
            ]
        )
        await migrate_flags(store, "email")
        queue = RoutingQueue(store, "email")
        assert sorted(e["_id"] for e in await queue.take(10)) == ["old", "older"]
        assert await notifications.count({"unrouted_email": {"$exists": True}}) == 0

        await queue.done(["old", "older"])
        late = {"_id": "late", "recipient_id": "ana", "unrouted_email": True}
        await notifications.insert_one(late)
        await migrate_flags(store, "email")  # once per store: the marker says it ran
        assert await queue.pending() == 0

"""Routing helpers (services/notify/routing.py): the workers' pause between rounds, and
the top-level flags the intakes find their work by."""

from __future__ import annotations

from services.notify.routing import IdlePause, prepare_routing, unrouted_flags
from shared.settings import CanteenSettings
from tests.support import service_store


def test_an_idle_worker_backs_off_and_wakes_up_at_once_when_work_appears() -> None:
    pause = IdlePause(first=0.25, longest=2.0)

    assert [pause.after(found=False) for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert pause.after(found=True, more=True) == 0.0  # a full batch: straight on
    assert pause.after(found=True) == 0.25  # some work, none left: the short pause again
    assert pause.after(found=False) == 0.5


async def test_notifications_written_before_the_flag_are_flagged_at_start(
    settings: CanteenSettings,
) -> None:
    async with service_store(settings, "notify") as store:
        notifications = store.collection("notifications")
        await notifications.insert_many(
            [
                {"_id": "old", "channels": {"email": "pending", "push": "queued"}},
                {"_id": "none", "recipient_id": "ana"},
                {"_id": "done", "channels": {"email": "digest", "push": "later"}},
            ]
        )
        await prepare_routing(notifications, "email")
        await prepare_routing(notifications, "push")

        flags = {
            d["_id"]: (d.get("unrouted_email"), d.get("unrouted_push"))
            for d in await notifications.find({})
        }
        assert flags == {
            "old": (True, None),
            "none": (True, True),
            "done": (None, True),
        }
        assert unrouted_flags({"email": "now", "push": "off"}) == {
            "unrouted_email": True,
            "unrouted_push": False,
        }

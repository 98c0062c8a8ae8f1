"""`canteen admin digests send`: a person's digest for the current period, queued now."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notify.bootstrap import context
from services.notify.email import digests_for
from services.notify.email.outbox import EMAIL_OUTBOX
from shared.backends import make_store
from shared.settings import CanteenSettings
from tests.cli.conftest import Invoke
from tests.notify.test_email_support import notification


async def _in_notify(settings: CanteenSettings, work: Any) -> Any:
    store = make_store(settings, "notify")
    try:
        return await work(store)
    finally:
        await store.close()


async def _seed(store: Any) -> None:
    """Ana (UTC, daily digest) has an unread item waiting for her digest; Bo has no
    address; Cy turned digests off."""
    preferences = store.collection("preferences")
    await preferences.insert_many(
        [
            {
                "_id": "ana",
                "email_address": "ana@example.org",
                "time_zone": "UTC",
                "digest": "daily",
            },
            {"_id": "cy", "email_address": "cy@example.org", "time_zone": "UTC", "digest": "off"},
        ]
    )
    waiting = notification(
        "n1",
        "ana",
        created_at=datetime.now(UTC) - timedelta(hours=1),
        channels={"email": "digest", "push": "off"},
    )
    await store.collection("notifications").insert_one(waiting)


def _rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[0] in ("ana", "bo", "cy", "dee"):
            rows[cells[0]] = cells[1:]
    return rows


def test_a_digest_is_queued_once_for_its_period(settings: CanteenSettings, invoke: Invoke) -> None:
    asyncio.run(_in_notify(settings, _seed))
    today = f"daily:{datetime.now(UTC).date().isoformat()}"

    first = invoke("admin", "digests", "send", "ana", "bo", "cy")
    assert first.exit_code == 1, first.output  # bo and cy could not get one
    assert _rows(first.stderr + first.stdout) == {
        "ana": [today, "queued"],
        "bo": ["-", "no email address"],
        "cy": ["-", "digests off"],
    }

    again = invoke("admin", "digests", "send", "ana")
    assert again.exit_code == 0, again.output
    assert _rows(again.stderr + again.stdout) == {"ana": [today, "already sent"]}

    async def check(store: Any) -> None:
        mails = await store.collection(EMAIL_OUTBOX).find({"kind": "digest"})
        assert [m["_id"] for m in mails] == [f"d:ana:{today}"]
        # The scheduler, at the end of the same day: that period's digest is not sent again.
        scheduler = digests_for(context(settings, store))
        late = datetime.now(UTC).replace(hour=23, minute=59)
        assert await scheduler.tick(late) == 0
        assert await store.collection(EMAIL_OUTBOX).count({"kind": "digest"}) == 1

    asyncio.run(_in_notify(settings, check))


def test_an_empty_digest_is_not_recorded_so_the_scheduled_one_still_goes(
    settings: CanteenSettings, invoke: Invoke
) -> None:
    async def seed(store: Any) -> None:
        await store.collection("preferences").insert_one(
            {
                "_id": "dee",
                "email_address": "dee@example.org",
                "time_zone": "UTC",
                "digest": "daily",
            }
        )

    asyncio.run(_in_notify(settings, seed))
    result = invoke("admin", "digests", "send", "dee")
    assert result.exit_code == 0, result.output
    assert _rows(result.stderr + result.stdout)["dee"][1] == "nothing to send"

    async def later(store: Any) -> None:
        await store.collection("notifications").insert_one(
            notification("n2", "dee", channels={"email": "digest", "push": "off"})
        )
        scheduler = digests_for(context(settings, store))
        assert await scheduler.tick(datetime.now(UTC).replace(hour=23, minute=59)) == 1

    asyncio.run(_in_notify(settings, later))

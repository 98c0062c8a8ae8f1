"""`canteen admin outbox status`: unpublished events per service and collection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from shared.backends import make_store
from shared.bus.port import PER_EVENT_WINDOW
from shared.events import Event
from shared.ids import new_id
from shared.outbox import insert_with_events, outbox_records
from shared.settings import CanteenSettings
from tests.cli.conftest import Invoke


def _events(n: int, minutes_ago: int) -> list[Event]:
    old = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return [
        Event(
            id=new_id(),
            source="canteen.activity",
            type="canteen.test.thing.happened.v1",
            subject="p1",
            time=old,
            data={"n": i},
        )
        for i in range(n)
    ]


async def _write_pending(settings: CanteenSettings, events: int) -> None:
    """A post written with events its relay never published (no relay runs here)."""
    store = make_store(settings, "activity")
    try:
        outbox = _events(events, minutes_ago=10)
        await store.collection("posts").insert_one(insert_with_events({"_id": "p1"}, outbox))
    finally:
        await store.close()


async def _write_pending_records(settings: CanteenSettings, events: int) -> None:
    """Notify's outbox records (events kept as JSON text), never published."""
    store = make_store(settings, "notify")
    try:
        records = outbox_records(_events(events, minutes_ago=30), PER_EVENT_WINDOW)
        await store.collection("notification_outbox").insert_many(records)
    finally:
        await store.close()


def _row(output: str, service: str, collection: str) -> list[str]:
    line = next(x for x in output.splitlines() if f" {service} " in x and f" {collection} " in x)
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_pending_events_are_counted_with_their_age(
    settings: CanteenSettings, invoke: Invoke
) -> None:
    clean = invoke("admin", "outbox", "status")
    assert clean.exit_code == 0, clean.output
    assert _row(clean.stderr, "activity", "posts")[2:] == ["0", "0", "-"]

    asyncio.run(_write_pending(settings, events=3))
    result = invoke("admin", "outbox", "status")
    assert result.exit_code == 0, result.output
    docs, events, age = _row(result.stderr, "activity", "posts")[2:]
    assert (docs, events) == ("1", "3")
    assert age.endswith("m") and 9 <= int(age[:-1]) <= 11  # written ten minutes ago
    assert _row(result.stderr, "notify", "notification_outbox")[2] == "0"
    assert "1 document(s) with unpublished events" in result.stderr


def test_outbox_records_are_counted_with_their_age(
    settings: CanteenSettings, invoke: Invoke
) -> None:
    asyncio.run(_write_pending_records(settings, events=150))
    result = invoke("admin", "outbox", "status")
    assert result.exit_code == 0, result.output
    docs, events, age = _row(result.stderr, "notify", "notification_outbox")[2:]
    assert (docs, events) == ("2", "150")
    assert age.endswith("m") and 29 <= int(age[:-1]) <= 31  # written half an hour ago

"""An inbox page reads a bounded number of each group's items, however large the group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.notify.inbox.repository import SMALL_GROUP, InboxRepository
from shared.settings import CanteenSettings
from tests.support import service_store

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
GROUPS = ("g-big", "g-small")


def item(group_id: str, seq: int, *, read: bool = False, hidden: bool = False) -> dict[str, Any]:
    return {
        "_id": f"{group_id}-{seq}",
        "recipient_id": "ana",
        "group_id": group_id,
        "seq": seq,
        "created_at": T0 + timedelta(seconds=seq),
        "read_at": T0 if read else None,
        "hidden": hidden,
        "in_app": True,
    }


async def test_newest_items_of_small_and_large_groups_unread_ones_when_asked(
    settings: CanteenSettings,
) -> None:
    async with service_store(settings, "notify-items") as store:
        repo = InboxRepository(store)
        await repo.prepare()
        big = SMALL_GROUP + 30  # a popular post: many reactions in one group
        docs = [item("g-big", s, read=s > big - 5) for s in range(1, big + 1)]
        docs += [item("g-small", s, hidden=s == 3) for s in range(1, 4)]
        await repo.insert_all(docs)
        groups = [{"_id": "g-big", "count": big}, {"_id": "g-small", "count": 3}]

        items = await repo.items_of(groups, per_group=10)
        by_group = {g: [i["seq"] for i in items if i["group_id"] == g] for g in GROUPS}
        assert by_group["g-big"] == list(range(big, big - 10, -1))  # the newest ten only
        assert by_group["g-small"] == [2, 1]  # all its shown ones

        unread = await repo.items_of(groups, per_group=10, unread=True)
        newest_unread = [i["seq"] for i in unread if i["group_id"] == "g-big"]
        assert newest_unread == list(range(big - 5, big - 15, -1))  # the read five skipped

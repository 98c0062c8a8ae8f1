"""The broker hands this replica's own writes to its clients at once, and a later tick of
the same notifications sends nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.notify.inbox.repository import InboxRepository
from services.notify.stream.broker import Broker, Subscriber
from shared.backends import make_store
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore


@pytest.fixture
async def store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(settings, "notify")
    yield store
    await store.close()


def note(nid: str, user: str, seq: int, **extra: Any) -> dict[str, Any]:
    return {
        "_id": nid,
        "recipient_id": user,
        "seq": seq,
        "type": "follower",
        "created_at": datetime.now(UTC),
        "hidden": False,
        "in_app": True,
        **extra,
    }


def drain(sub: Subscriber) -> list[tuple[str, Any]]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


async def test_local_writes_reach_clients_without_a_tick_and_only_once(
    store: DocumentStore,
) -> None:
    repo = InboxRepository(store)
    broker = Broker(repo, poll_seconds=0.05)
    ana = Subscriber("ana", floor=0)
    broker.subscribe(ana)
    docs = [
        note("n1", "ana", 1),
        note("n2", "ana", 2, hidden=True),
        note("n3", "ana", 3, in_app=False),
        note("n4", "bo", 1),  # not connected here
    ]
    broker.publish(docs)
    assert [(kind, doc["_id"]) for kind, doc in drain(ana)] == [("notification", "n1")]
    # the same notification found by a tick later is not sent again; the badge is
    await store.collection("notifications").insert_many([docs[0]])
    await store.collection("unread_counters").insert_one({"_id": "ana", "seq": 1, "unread": 1})
    assert await broker.tick() is True  # the badge was new
    assert drain(ana) == [("unread", 1)]
    assert await broker.tick() is False  # nothing new: the poll may back off
    assert drain(ana) == []

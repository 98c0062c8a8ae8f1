"""The broker hands this replica's own writes to its clients at once, and a later tick of
the same notifications sends nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.notify.inbox.repository import InboxRepository
from services.notify.stream.broker import PASSED_KEPT, Broker, Subscriber
from services.notify.stream.routes import _event
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


def sent_ids(sub: Subscriber) -> list[str]:
    return [doc["_id"] for kind, doc in drain(sub) if kind == "notification"]


def test_a_later_seq_waits_for_the_earlier_one_another_replica_wrote() -> None:
    """Ids must increase: a reconnect resumes after the last id it got."""
    ana = Subscriber("ana", floor=1, hold_seconds=2.0)
    assert ana.offer(note("n3", "ana", 3), now=100.0) is True
    assert sent_ids(ana) == []  # seq 2 may still land
    assert ana.offer(note("n2", "ana", 2), now=100.5) is True
    assert sent_ids(ana) == ["n2", "n3"]
    assert ana.floor == 3
    assert ana.offer(note("n2", "ana", 2), now=101.0) is False  # a tick re-reading it


def test_a_gap_that_never_fills_holds_only_for_the_hold() -> None:
    ana = Subscriber("ana", floor=0, hold_seconds=2.0)
    ana.offer(note("n2", "ana", 2), now=10.0)
    ana.offer(note("n4", "ana", 4), now=11.0)
    ana.release(now=11.9)
    assert sent_ids(ana) == []
    assert ana.waiting_until == 12.0
    ana.release(now=12.0)  # seq 1 never came; seq 3 may still: each waits its own hold
    assert sent_ids(ana) == ["n2"]
    assert ana.waiting_until == 13.0
    # seq 1 landing now is still sent, as `late` (no SSE id: Last-Event-ID stays at 2)
    assert ana.offer(note("n1", "ana", 1), now=12.5) is True
    assert [(kind, doc["_id"]) for kind, doc in drain(ana)] == [("late", "n1")]
    assert ana.offer(note("n1", "ana", 1), now=12.6) is False  # a tick re-reading it
    ana.release(now=13.0)
    assert sent_ids(ana) == ["n4"]
    assert ana.waiting_until is None
    # seq 3, passed over at 13.0, lands hidden: nothing is sent, and it is forgotten
    assert ana.offer(note("n3", "ana", 3, hidden=True), now=13.5) is True
    assert drain(ana) == [] and ana.passed == {}


def test_a_stream_remembers_only_the_newest_passed_over_seqs() -> None:
    ana = Subscriber("ana", floor=0, hold_seconds=1.0)
    ana.offer(note("far", "ana", PASSED_KEPT * 3), now=0.0)
    ana.release(now=5.0)
    assert list(ana.passed) == list(range(PASSED_KEPT * 2, PASSED_KEPT * 3))
    ana.offer(note("next", "ana", PASSED_KEPT * 3 + 5), now=6.0)
    ana.release(now=10.0)
    assert len(ana.passed) == PASSED_KEPT and max(ana.passed) == PASSED_KEPT * 3 + 4


def test_notifications_not_shown_close_gaps_without_being_sent() -> None:
    ana = Subscriber("ana", floor=0)
    ana.offer(note("n2", "ana", 2), now=1.0)
    ana.offer(note("n1", "ana", 1, in_app=False), now=1.1)
    assert sent_ids(ana) == ["n2"]
    ana.offer(note("n3", "ana", 3, hidden=True), now=1.2)
    ana.offer(note("n4", "ana", 4), now=1.3)
    assert sent_ids(ana) == ["n4"]


async def test_a_tick_fills_the_gap_before_a_local_write_goes_out(
    store: DocumentStore,
) -> None:
    """Replica two wrote seq 1 (and a seq 2 not shown in the app); this replica writes
    seq 3 and publishes it at once: it goes out after 1, on the tick that finds it."""
    repo = InboxRepository(store)
    broker = Broker(repo, poll_seconds=0.05)
    ana = Subscriber("ana", floor=0, hold_seconds=60.0)
    broker.subscribe(ana)
    broker.publish([note("n3", "ana", 3)])
    assert sent_ids(ana) == []
    await store.collection("notifications").insert_many(
        [note("n1", "ana", 1), note("n2", "ana", 2, in_app=False), note("n3", "ana", 3)]
    )
    assert await broker.tick() is True
    assert sent_ids(ana) == ["n1", "n3"]
    assert ana.held == {}


def test_a_late_frame_carries_no_sse_id() -> None:
    """Browsers keep the last id they got when a frame has none: resuming stays exact."""
    doc = note("n1", "ana", 7) | {
        "target": {"type": "post", "id": "p1"},
        "group_id": "g1",
        "title": "Follower",
        "summary": "Bo followed you",
        "link": "/people/bo",
        "critical": False,
    }
    on_time, late = _event(doc).decode(), _event(doc, late=True).decode()
    assert on_time.startswith("id: 7\nevent: notification\ndata: ")
    assert late.startswith("event: notification\ndata: ") and "id:" not in late.split("data:")[0]
    assert on_time.split("data: ")[1] == late.split("data: ")[1]

"""Unread and unseen counts survive a crash between a mark's writes (readstate.py): the
interrupted mark is finished by the person's next one, a hide by the event's redelivery,
and nothing is counted down twice. Both backends; the crash is the writes a mark makes,
stopped part way (what a killed process leaves), driven on the store directly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notify.inbox.readstate import STALE_AFTER
from services.notify.inbox.repository import COUNTERS, GROUPS, NOTIFICATIONS
from services.notify.inbox.service import Inbox
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import new_event
from shared.store.port import DocumentStore
from tests.notify.conftest import NotifyStores
from tests.notify.test_inbox_support import comment, deleted, follow, post, uid


async def _deliver(dispatcher: EventDispatcher, *payloads: Any) -> None:
    for payload in payloads:
        await dispatcher(new_event(payload))


Setup = tuple[DocumentStore, Inbox, EventDispatcher, str, str]


async def _setup(notify_stores: NotifyStores) -> Setup:
    """Ana has notifications in three groups: two comments on one post, a follower, a
    mention in another post."""
    store, inbox, dispatcher = await notify_stores()
    ana, bo, cy, dee = (uid(n) for n in ("ana", "bo", "cy", "dee"))
    mine = post(ana)
    other = post(dee, mentions=[ana])
    await _deliver(
        dispatcher,
        mine,
        comment(mine.id, ana, bo),
        comment(mine.id, ana, cy),
        follow(dee, ana),
        other,
    )
    return store, inbox, dispatcher, ana, other.id


async def _counts(store: DocumentStore, user: str) -> dict[str, Any]:
    """What the counts say and what the notifications say they should be."""
    shown = await store.collection(NOTIFICATIONS).find(
        {"recipient_id": user, "hidden": False, "in_app": True}
    )
    counter = await store.collection(COUNTERS).find_one({"_id": user})
    groups = await store.collection(GROUPS).find({"recipient_id": user})
    assert counter is not None
    return {
        "counter": (counter["unread"], counter["unseen"]),
        "truth": (
            sum(1 for n in shown if n["read_at"] is None),
            sum(1 for n in shown if n.get("seen_at") is None),
        ),
        "groups": {g["_id"]: (g["count"], g["unread"]) for g in groups},
        "groups_truth": {
            g["_id"]: (
                sum(1 for n in shown if n["group_id"] == g["_id"]),
                sum(1 for n in shown if n["group_id"] == g["_id"] and n["read_at"] is None),
            )
            for g in groups
        },
        "pending": sorted(counter.get("_pending") or {}),
    }


def _consistent(counts: dict[str, Any]) -> bool:
    return counts["counter"] == counts["truth"] and counts["groups"] == counts["groups_truth"]


async def test_a_mark_all_interrupted_after_its_notifications_is_finished_by_the_next_mark(
    notify_stores: NotifyStores,
) -> None:
    store, inbox, _, ana, _ = await _setup(notify_stores)
    before = await _counts(store, ana)
    assert _consistent(before) and before["counter"] == (4, 4)
    now = datetime.now(UTC)

    # The writes of a mark-all, up to the crash: the op recorded, the notifications read.
    op = await inbox.repo.read_state._begin(ana, "read", now)
    await store.collection(NOTIFICATIONS).update_many(
        {"recipient_id": ana, "read_at": None}, {"$set": {"read_at": now, "read_op": op}}
    )
    crashed = await _counts(store, ana)
    assert crashed["counter"] == (4, 4) and crashed["truth"] == (0, 4)
    assert crashed["pending"] == [op]

    # A retry right away finds nothing left to mark and leaves the op to its own writer.
    assert await inbox.repo.mark_all(ana, now) == 0
    assert (await _counts(store, ana))["pending"] == [op]

    # Once the op is stale, the next mark of any kind finishes it first, exactly once.
    later = now + STALE_AFTER + timedelta(seconds=1)
    assert await inbox.repo.mark_seen(ana, later) == 4
    after = await _counts(store, ana)
    assert _consistent(after), after
    assert after["counter"] == (0, 0) and after["pending"] == []
    assert await inbox.repo.read_state.finish_interrupted(ana, later + STALE_AFTER) == 0
    assert await _counts(store, ana) == after


async def test_an_op_whose_group_went_down_but_not_the_counter_is_not_applied_twice(
    notify_stores: NotifyStores,
) -> None:
    store, inbox, _, ana, _ = await _setup(notify_stores)
    now = datetime.now(UTC)
    rs = inbox.repo.read_state
    [one] = await store.collection(NOTIFICATIONS).find({"recipient_id": ana, "type": "follower"})
    op = await rs._begin(ana, "read", now)
    await store.collection(NOTIFICATIONS).update_one(
        {"_id": one["_id"]}, {"$set": {"read_at": now, "read_op": op}}
    )
    await rs._decrement(store.collection(GROUPS), one["group_id"], op, {"unread": -1})
    crashed = await _counts(store, ana)
    assert crashed["groups"] == crashed["groups_truth"]  # the group went down...
    assert crashed["counter"] == (4, 4) and crashed["truth"] == (3, 4)  # ...the counter not

    # Finished twice (two tabs racing to recover it): each count goes down once.
    later = now + STALE_AFTER + timedelta(seconds=1)
    assert await rs.finish_interrupted(ana, later) == 1
    await rs._finish(ana, op, "unread", Counter({one["group_id"]: 1}))
    after = await _counts(store, ana)
    assert _consistent(after), after
    assert after["counter"] == (3, 4) and after["pending"] == []


async def test_a_hide_interrupted_before_its_counts_is_settled_by_the_redelivery(
    notify_stores: NotifyStores,
) -> None:
    store, inbox, dispatcher, ana, other = await _setup(notify_stores)
    notifications = store.collection(NOTIFICATIONS)
    [mention] = await notifications.find({"recipient_id": ana, "post_id": other})
    # The deletion's first write, then the crash: hidden, its counts not yet down.
    await notifications.update_one(
        {"_id": mention["_id"]}, {"$set": {"hidden": True, "hide_done": False}}
    )
    crashed = await _counts(store, ana)
    assert crashed["counter"] == (4, 4) and crashed["truth"] == (3, 3)

    # The redelivered deletion settles it; delivered again, it changes nothing.
    for _ in range(2):
        assert await inbox.repo.hide_about("post_id", other) == 0
        after = await _counts(store, ana)
        assert _consistent(after), after
        assert after["counter"] == (3, 3)
    # And through the handler, as the bus redelivers it.
    await dispatcher(new_event(deleted(other, "dee")))
    assert await _counts(store, ana) == after


async def test_the_sweep_finishes_ops_of_people_who_do_not_mark_again(
    notify_stores: NotifyStores,
) -> None:
    store, inbox, _, ana, _ = await _setup(notify_stores)
    rs = inbox.repo.read_state
    now = datetime.now(UTC)
    op = await rs._begin(ana, "seen", now)
    await store.collection(NOTIFICATIONS).update_many(
        {"recipient_id": ana}, {"$set": {"seen_at": now, "seen_op": op}}
    )
    assert await rs.sweep(now) == 0  # not stale yet: its own writer may still finish it
    assert (await _counts(store, ana))["counter"] == (4, 4)
    assert await rs.sweep(now + STALE_AFTER + timedelta(seconds=1)) == 1
    after = await _counts(store, ana)
    assert _consistent(after) and after["counter"] == (4, 0) and after["pending"] == []
    counter = await store.collection(COUNTERS).find_one({"_id": ana})
    assert counter is not None and counter["_pending_n"] == 0  # the sweep skips it now
    assert await rs.sweep(now + 2 * STALE_AFTER) == 0


async def test_a_mark_begun_before_the_counter_existed_leaves_no_negative_pending(
    notify_stores: NotifyStores,
) -> None:
    store, inbox, _, _, _ = await _setup(notify_stores)
    rs, newcomer = inbox.repo.read_state, uid("new")
    now = datetime.now(UTC)
    op = await rs._begin(newcomer, "read", now)  # no counter yet: nothing recorded
    await store.collection(COUNTERS).insert_one(
        {"_id": newcomer, "seq": 1, "unread": 1, "unseen": 1}
    )
    await rs._finish(newcomer, op, "unread", Counter())
    counter = await store.collection(COUNTERS).find_one({"_id": newcomer})
    assert counter is not None and counter.get("_pending_n", 0) == 0
    assert counter["unread"] == 1


async def test_many_hides_in_a_group_do_not_make_a_pending_mark_count_twice(
    notify_stores: NotifyStores,
) -> None:
    """A popular post's deletion hides many notifications of one group: their op ids are
    kept apart from marks', so an interrupted mark is still known as applied there."""
    store, inbox, dispatcher, ana, _ = await _setup(notify_stores)
    mine = post(ana)
    await _deliver(dispatcher, mine, *(comment(mine.id, ana, uid("c")) for _ in range(70)))
    notifications = store.collection(NOTIFICATIONS)
    docs = await notifications.find({"recipient_id": ana, "post_id": mine.id})
    [group_id] = {d["group_id"] for d in docs}
    assert len(docs) == 70
    rs, now = inbox.repo.read_state, datetime.now(UTC)
    first = min(d["_id"] for d in docs)
    op = await rs._begin(ana, "read", now)
    await notifications.update_one({"_id": first}, {"$set": {"read_at": now, "read_op": op}})
    await rs._decrement(store.collection(GROUPS), group_id, op, {"unread": -1})
    # The crash; then the other 69 are hidden (their post's comments deleted, say).
    assert await rs.hide_where({"group_id": group_id, "_id": {"$ne": first}}) == 69
    assert await rs.finish_interrupted(ana, now + STALE_AFTER + timedelta(seconds=1)) == 1
    after = await _counts(store, ana)
    assert _consistent(after), after
    assert after["groups"][group_id] == (1, 0)

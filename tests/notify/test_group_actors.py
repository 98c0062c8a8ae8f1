"""A notification group with many actors names the latest ACTORS_KEPT and counts them all.

"Ana and 59 others commented on your post": the group document keeps the latest actors
by id and, past ACTORS_KEPT, an exact `actor_count` backed by one record per actor in
GROUP_ACTORS (services/notify/inbox/repository.py: `_actors_past`). Driven through the
inbox dispatcher on each backend's store, per event and in batches, redelivered, raced,
and from a group written before the count existed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.notify.inbox.repository import ACTORS_KEPT, GROUP_ACTORS, GROUPS
from services.notify.inbox.routes import _group_out
from shared.events import Event
from shared.events.envelope import new_event
from shared.store.port import DocumentStore
from tests.notify.conftest import NotifyStores
from tests.notify.test_inbox_batch import per_event, snapshot
from tests.notify.test_inbox_support import comment, post, uid

MANY = ACTORS_KEPT + 10


def commented(ana: str, post_id: str, authors: list[str]) -> list[Event]:
    return [new_event(comment(post_id, ana, a)) for a in authors]


async def the_group(store: DocumentStore, ana: str) -> dict[str, Any]:
    groups = await store.collection(GROUPS).find({"recipient_id": ana, "type": "comment.created"})
    assert len(groups) == 1, groups
    return groups[0]


async def recorded(store: DocumentStore) -> list[str]:
    return sorted(d["_id"] for d in await store.collection(GROUP_ACTORS).find({}))


async def test_many_actors_are_counted_exactly_and_the_latest_named(
    notify_stores: NotifyStores,
) -> None:
    ana = uid("ana")
    note = post(ana)
    people = [f"{uid('c')}-{i:02d}" for i in range(MANY)]
    # Every person once, then three again: one of the first (no longer named), one in the
    # middle and the latest.
    authors = [*people, people[0], people[30], people[-1]]
    events = [new_event(note), *commented(ana, note.id, authors)]
    one_store, _, one = await notify_stores()
    many_store, _, many = await notify_stores()
    await per_event(one, events)
    await many.handle_batch(events)

    expected = await snapshot(one_store)
    assert await snapshot(many_store) == expected
    assert await recorded(many_store) == await recorded(one_store)
    group = await the_group(one_store, ana)
    assert group["count"] == len(authors)
    assert group["actor_count"] == MANY
    # the latest newcomers, in the order they first acted (coming back moves no one)
    assert group["actors"] == people[-ACTORS_KEPT:]
    assert len(await recorded(one_store)) == MANY

    shown = _group_out({**group, "last_actor_id": people[-1]}, [])
    assert shown.actor_count == MANY and shown.actors[0] == people[-1]
    assert shown.summary.startswith(f"{people[-1]} and {MANY - 1} others")

    # Redelivered whole, per event, and cut at other boundaries: nothing counts twice.
    await many.handle_batch(events)
    await per_event(many, events[40:])
    await many.handle_batch(events[5:30])
    assert await snapshot(many_store) == expected


async def test_one_new_actor_brought_by_two_notifications_at_once_counts_once(
    notify_stores: NotifyStores,
) -> None:
    ana = uid("ana")
    note = post(ana)
    store, _, dispatcher = await notify_stores()
    people = [f"{uid('c')}-{i:02d}" for i in range(ACTORS_KEPT + 2)]
    await dispatcher.handle_batch([new_event(note), *commented(ana, note.id, people)])
    zed = uid("zed")
    first, second = commented(ana, note.id, [zed, zed])
    await asyncio.gather(dispatcher(first), dispatcher(second))
    group = await the_group(store, ana)
    assert (group["count"], group["actor_count"]) == (len(people) + 2, len(people) + 1)
    assert group["actors"][-1] == zed


async def test_a_group_written_before_the_count_keeps_counting_from_its_list(
    notify_stores: NotifyStores,
) -> None:
    """Groups written by earlier versions list every actor and have no `actor_count`."""
    ana = uid("ana")
    note = post(ana)
    store, _, dispatcher = await notify_stores()
    people = [f"{uid('c')}-{i:02d}" for i in range(MANY)]
    await dispatcher.handle_batch([new_event(note), *commented(ana, note.id, people[:3])])
    group = await the_group(store, ana)
    assert "actor_count" not in group  # a small group: the list is the count
    # As the old code left a group with many actors: the whole list, no count, no records.
    await store.collection(GROUPS).update_one(
        {"_id": group["_id"]}, {"$set": {"actors": people, "_v": MANY}}
    )
    newcomer = uid("new")
    await dispatcher.handle_batch(commented(ana, note.id, [newcomer, people[0]]))
    group = await the_group(store, ana)
    assert group["actor_count"] == MANY + 1
    assert group["actors"] == [*people, newcomer][-ACTORS_KEPT:]
    # people[0] is no longer named; coming back, it is still known
    await dispatcher(commented(ana, note.id, [people[0]])[0])
    assert (await the_group(store, ana))["actor_count"] == MANY + 1

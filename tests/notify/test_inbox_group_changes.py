"""A group that turns private, or is deleted, takes what was said in it out of the inboxes
of those who may no longer see it — and an event written before the change but handled
after it (another partition) is gated as private. Both backends, dispatcher driven
directly on the store."""

from __future__ import annotations

from typing import Any

from services.notify.inbox.repository import COUNTERS, NOTIFICATIONS
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import new_event
from shared.events.schemas.activity.social import GroupCreated, GroupDeleted, GroupUpdated
from shared.store.port import DocumentStore
from tests.notify.conftest import NotifyStores
from tests.notify.test_inbox_support import NOW, comment, membership, post, uid


def _group(gid: str, owner: str) -> dict[str, Any]:
    return {
        "id": gid,
        "slug": gid,
        "name": gid.upper(),
        "join_policy": "open",
        "owner_id": owner,
        "actor_id": owner,
    }


def _updated(gid: str, owner: str, visibility: str, previous: str, rev: int) -> GroupUpdated:
    return GroupUpdated(
        **_group(gid, owner),
        visibility=visibility,
        previous_visibility=previous,
        revision=rev,
        updated_at=NOW,
    )


async def _deliver(dispatcher: EventDispatcher, *payloads: Any) -> None:
    for payload in payloads:
        await dispatcher(new_event(payload))


async def _shown(store: DocumentStore, user: str) -> list[dict[str, Any]]:
    return await store.collection(NOTIFICATIONS).find(
        {"recipient_id": user, "hidden": False, "in_app": True}
    )


async def _unread(store: DocumentStore, user: str) -> int:
    counter = await store.collection(COUNTERS).find_one({"_id": user})
    return int(counter["unread"]) if counter else 0


async def test_a_group_turning_private_takes_its_content_out_of_non_members_inboxes(
    notify_stores: NotifyStores,
) -> None:
    store, _, dispatcher = await notify_stores()
    ana, bo, cy, gid = uid("ana"), uid("bo"), uid("cy"), uid("g")
    dee = uid("dee")
    early = post(ana, mentions=[bo, cy], group=gid, visibility="public")
    await _deliver(
        dispatcher,
        GroupCreated(**_group(gid, ana), visibility="public", created_at=NOW),
        membership(gid, bo, "joined", "active", actor=bo, visibility="public"),
        membership(gid, dee, "invited", "invited", actor=ana, visibility="public"),
        early,
    )
    assert len(await _shown(store, cy)) == 1 and await _unread(store, cy) == 1

    await _deliver(dispatcher, _updated(gid, ana, "private", "public", 1))
    # cy is not a member: the mention is gone from the inbox and the badge; bo keeps his.
    assert await _shown(store, cy) == [] and await _unread(store, cy) == 0
    # dee's invitation is about the group itself: it stays.
    [invited] = await _shown(store, dee)
    assert invited["type"] == "group.invited" and await _unread(store, dee) == 1
    [kept] = await _shown(store, bo)
    assert kept["post_id"] == early.id and await _unread(store, bo) == 1

    # A comment written while the group was public, handled after the change: gated and
    # worded as private — bo (a member) hears of it, cy (mentioned, not a member) does not.
    late = comment(early.id, ana, ana, group=gid, visibility="public", mentions=[bo, cy])
    await _deliver(dispatcher, late)
    assert await _shown(store, cy) == []
    [fresh] = [n for n in await _shown(store, bo) if n["_id"] != kept["_id"]]
    assert fresh["type"] == "mention" and fresh["private"] is True

    # Had an earlier delivery of that comment told cy (it wrote, then died before its
    # check), its redelivery takes it back.
    audiences = store.collection("audiences")
    recorded = await audiences.find_one({"_id": f"v:{gid}"})
    await audiences.delete_one({"_id": f"v:{gid}"})
    again = comment(early.id, ana, ana, group=gid, visibility="public", mentions=[cy])
    await _deliver(dispatcher, again)  # the group looks public: cy is told
    assert len(await _shown(store, cy)) == 1
    await audiences.insert_one(recorded)
    await dispatcher(new_event(again))
    assert await _shown(store, cy) == [] and await _unread(store, cy) == 0

    # An older change, redelivered, hides nothing more and changes no count.
    before = (await _unread(store, bo), len(await _shown(store, bo)))
    await _deliver(dispatcher, _updated(gid, ana, "private", "public", 1))
    assert (await _unread(store, bo), len(await _shown(store, bo))) == before


async def test_a_deleted_groups_content_leaves_every_inbox(notify_stores: NotifyStores) -> None:
    store, _, dispatcher = await notify_stores()
    ana, bo, gid = uid("ana"), uid("bo"), uid("g")
    await _deliver(
        dispatcher,
        GroupCreated(**_group(gid, ana), visibility="public", created_at=NOW),
        membership(gid, bo, "joined", "active", actor=bo, visibility="public"),
        post(ana, mentions=[bo], group=gid, visibility="public"),
        post(ana, mentions=[bo]),  # outside the group: stays
    )
    assert len(await _shown(store, bo)) == 2
    inside = post(ana, group=gid, visibility="public")
    await _deliver(dispatcher, inside)
    deleted = GroupDeleted(**_group(gid, ana), visibility="public", deleted_at=NOW)
    for _ in range(2):  # and its redelivery changes nothing
        await _deliver(dispatcher, deleted)
        [left] = await _shown(store, bo)
        assert left["audience_group_id"] is None and await _unread(store, bo) == 1
    # A comment written before the deletion, handled after it: nobody is told (nothing is
    # even written, so no mail or push is routed).
    await _deliver(dispatcher, comment(inside.id, ana, bo, group=gid, visibility="public"))
    assert await store.collection(NOTIFICATIONS).find({"recipient_id": ana}) == []
    assert await _unread(store, ana) == 0

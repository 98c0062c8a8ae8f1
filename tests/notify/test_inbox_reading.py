"""Aggregation, the inbox list and its filters, read/seen state and exact unread counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from shared.backends import make_store
from shared.bus.port import EventBus
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.notify.test_inbox_support import (
    NOW,
    bus,
    comment,
    follow,
    inbox,
    post,
    publish,
    publish_at,
    reaction,
    uid,
    unread,
    wait_inbox,
    wait_unread,
)
from tests.support import eventually

__all__ = ["bus"]
PROBLEM = "application/problem+json"


async def test_reactions_within_a_window_aggregate_and_items_read_one_by_one(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    ana = uid("ana")
    note = post(ana)
    fans = [uid("fan") for _ in range(5)]
    start = NOW + timedelta(seconds=1)  # an hour-aligned window opens at NOW
    for i, fan in enumerate(fans):
        await publish_at(
            bus, reaction("post", note.id, ana, fan, note.id), start + timedelta(seconds=i)
        )
    late = uid("late")
    await publish_at(bus, reaction("post", note.id, ana, late, note.id), start + timedelta(hours=2))
    headers = await login(ana)
    groups = await wait_inbox(client, headers, 6)
    assert sorted(g["count"] for g in groups) == [1, 5]
    big = next(g for g in groups if g["count"] == 5)
    assert big["actor_count"] == 5 and len(big["items"]) == 5
    assert big["summary"].endswith("and 4 others reacted to your post")
    await wait_unread(client, headers, 6)

    one = big["items"][0]["id"]
    read = await client.post(f"/api/v1/notifications/{one}/read", headers=headers)
    assert read.status_code == 200, read.text
    assert read.json()["unread"] == 5
    again = await client.post(f"/api/v1/notifications/{one}/read", headers=headers)
    assert again.json()["unread"] == 5  # idempotent
    groups = await inbox(client, headers)
    big = next(g for g in groups if g["count"] == 5)
    assert big["unread"] == 4
    assert [i["read"] for i in big["items"] if i["id"] == one] == [True]
    assert sum(not i["read"] for i in big["items"]) == 4

    unread_only = await inbox(client, headers, unread="true")
    assert sum(len(g["items"]) for g in unread_only) == 5

    marked = await client.post(f"/api/v1/notifications/groups/{big['id']}/read", headers=headers)
    assert marked.status_code == 200 and marked.json()["unread"] == 1
    assert [g["count"] for g in await inbox(client, headers, unread="true")] == [1]


async def test_unread_count_across_every_mark_path_and_seen(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    ana = uid("ana")
    notes = [post(ana) for _ in range(3)]
    await publish(bus, *[comment(n.id, ana, uid("c")) for n in notes], follow(uid("f"), ana))
    headers = await login(ana)
    await wait_inbox(client, headers, 4)
    await wait_unread(client, headers, 4)
    count = (await client.get("/api/v1/notifications/unread-count", headers=headers)).json()
    assert count == {"unread": 4, "unseen": 4}

    seen = await client.post("/api/v1/notifications/seen", headers=headers)
    assert seen.json() == {"unread": 4, "unseen": 0}

    groups = await inbox(client, headers)
    first = groups[0]["items"][0]["id"]
    assert (await client.post(f"/api/v1/notifications/{first}/read", headers=headers)).json()[
        "unread"
    ] == 3
    second = groups[1]
    r = await client.post(f"/api/v1/notifications/groups/{second['id']}/read", headers=headers)
    assert r.json()["unread"] == 2
    r = await client.post("/api/v1/notifications/read-all", headers=headers)
    assert r.json() == {"unread": 0, "unseen": 0}
    assert await inbox(client, headers, unread="true") == []
    # read state is server-side: another "device" (a new token) sees the same
    other_device = await login(ana)
    assert await unread(client, other_device) == 0
    # a new notification after read-all counts again
    await publish(bus, follow(uid("g"), ana))
    await wait_unread(client, other_device, 1)


async def test_type_filter_and_cursor(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    ana = uid("ana")
    notes = [post(ana) for _ in range(5)]
    await publish(bus, *[comment(n.id, ana, uid("c")) for n in notes], follow(uid("f"), ana))
    headers = await login(ana)
    await wait_inbox(client, headers, 6)
    assert [g["type"] for g in await inbox(client, headers, type="follower")] == ["follower"]
    assert await inbox(client, headers, type="announcement") == []
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/notifications", headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [g["id"] for g in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 6 == len(set(seen))


async def test_unknown_and_other_users_notifications_are_404(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    ana, bo = uid("ana"), uid("bo")
    await publish(bus, follow(bo, ana))
    ana_h, bo_h = await login(ana), await login(bo)
    groups = await wait_inbox(client, ana_h)
    mine, group = groups[0]["items"][0]["id"], groups[0]["id"]
    for path in (
        f"/api/v1/notifications/{mine}/read",
        f"/api/v1/notifications/groups/{group}/read",
        "/api/v1/notifications/nope/read",
        "/api/v1/notifications/groups/nope/read",
    ):
        response = await client.post(path, headers=bo_h)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.get("/api/v1/notifications", headers={})).status_code == 401
    bad = await client.get("/api/v1/notifications", headers=ana_h, params={"cursor": "junk"})
    assert bad.status_code == 400
    # nothing changed for ana
    await eventually(lambda: unread(client, ana_h), until=lambda n: n == 1)
    assert groups[0]["unread"] == 1


async def test_a_group_with_nothing_to_show_is_left_out_of_the_page(
    client: httpx.AsyncClient, login: Login, bus: EventBus, settings: CanteenSettings
) -> None:
    # A group is written a moment before its first notification (and a group's items can
    # all be hidden): such a group would show an empty `items` list, so the page skips it.
    ana = uid("ana")
    await publish(bus, follow(uid("f"), ana))
    headers = await login(ana)
    [real] = await wait_inbox(client, headers, 1)
    store = make_store(settings, "notify")
    try:
        await store.collection("notification_groups").insert_one(
            {
                **{k: v for k, v in real.items() if k in ("type", "target", "link")},
                "_id": uid("g"),
                "recipient_id": ana,
                "count": 1,
                "unread": 1,
                "actors": [uid("a")],
                "latest_at": datetime.fromisoformat(real["latest_at"]) + timedelta(minutes=1),
            }
        )
    finally:
        await store.close()
    page = await client.get("/api/v1/notifications", headers=headers, params={"limit": 1})
    assert page.status_code == 200, page.text
    assert page.json()["items"] == []  # the newest group has nothing yet
    assert page.json()["next_cursor"]  # and the page still leads on
    assert [g["id"] for g in await inbox(client, headers)] == [real["id"]]

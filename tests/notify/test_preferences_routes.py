"""Preferences over HTTP: read, replace, org defaults (admins), 422 on bad values, and their
effect on notifications (mutes, in-app off, critical bypass)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.notify.email import tokens
from services.notify.email.unsubscribe import Unsubscriber
from shared.bus.port import EventBus
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.notify.test_inbox_support import (
    bus,
    comment,
    follow,
    join,
    pinned,
    post,
    publish,
    uid,
    wait_inbox,
)
from tests.support import service_store

__all__ = ["bus"]
PREFS = "/api/v1/notification-preferences"
PROBLEM = "application/problem+json"


async def test_preferences_round_trip_with_org_defaults(
    client: httpx.AsyncClient, login: Login
) -> None:
    ana = await login(uid("ana"))
    fresh = (await client.get(PREFS, headers=ana)).json()
    assert fresh["channels"] == {} and fresh["time_zone"] == "UTC"
    assert fresh["defaults"]["channels"]["mention"] == {"in_app": True, "email": True, "push": True}
    body = {
        "channels": {"reaction": {"push": True}, "answer.created": {"email": False}},
        "muted_groups": ["g1"],
        "muted_posts": ["p1"],
        "digest": "weekly",
        "quiet_hours": {"start": "22:30", "end": "06:45"},
        "time_zone": "Europe/Paris",
        "email_address": "ana@example.com",
    }
    put = await client.put(PREFS, headers=ana, json=body)
    assert put.status_code == 200, put.text
    got = (await client.get(PREFS, headers=ana)).json()
    assert {k: got[k] for k in body} == body

    admin = await login(uid("root"), roles=["admin"])
    org = {"channels": {"follower": {"email": True}}, "digest": "daily"}
    assert (await client.put(f"{PREFS}/org", headers=ana, json=org)).status_code == 403
    assert (await client.put(f"{PREFS}/org", headers=admin, json=org)).status_code == 200
    assert (await client.get(f"{PREFS}/org", headers=ana)).json() == org
    assert (await client.get(PREFS, headers=ana)).json()["org_defaults"] == org


@pytest.mark.parametrize(
    "bad",
    [
        {"channels": {"nonsense": {"email": True}}},
        {"channels": {"mention": {"sms": True}}},
        {"channels": {"mention": {"email": "yes please"}}},
        # Nothing can silence announcements: "off" would be stored and then ignored.
        {"channels": {"announcement": {"email": False}}},
        {"channels": {"announcement": {"in_app": True, "push": False}}},
        {"digest": "hourly"},
        {"quiet_hours": {"start": "25:00", "end": "07:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"time_zone": "Mars/Olympus"},
        {"email_address": "not-an-email"},
        {"muted_groups": ["x" * 500]},
        {"surprise": 1},
    ],
)
async def test_invalid_preferences_are_422_and_change_nothing(
    client: httpx.AsyncClient, login: Login, bad: dict[str, Any]
) -> None:
    ana = await login(uid("ana"))
    response = await client.put(PREFS, headers=ana, json=bad)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.get(PREFS, headers=ana)).json()["channels"] == {}
    admin = await login(uid("root"), roles=["admin"])
    if "channels" in bad or "digest" in bad:
        org = await client.put(f"{PREFS}/org", headers=admin, json=bad)
        assert org.status_code == 422


async def test_mutes_and_switches_apply_but_critical_bypasses_them(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    owner, mem = uid("own"), uid("mem")
    group = uid("g")
    headers = await login(mem)
    await join(bus, client, login, group, owner, mem)
    prefs = {
        "muted_groups": [group],
        "channels": {
            "follower": {"in_app": False, "email": False, "push": False},
            "announcement": {"in_app": True},  # on is accepted (it changes nothing)
        },
    }
    assert (await client.put(PREFS, headers=headers, json=prefs)).status_code == 200
    loud = post(owner, mentions=[mem], group=group, visibility="private")
    await publish(bus, loud, follow(owner, mem), pinned(loud.id, owner, owner, group))
    groups = await wait_inbox(client, headers, 2)
    # the mention in a muted group and the switched-off follower are not in the inbox:
    # a comment on mem's post, published after them and notified, shows they were handled
    await publish(bus, follow(uid("late"), mem))
    await publish(bus, comment(uid("p"), mem, owner))
    assert sorted(g["type"] for g in await wait_inbox(client, headers, 3)) == [
        "announcement",
        "comment.created",
        "group.approved",
    ]
    assert any(g["critical"] for g in groups)


async def test_a_save_from_an_old_read_does_not_undo_a_one_click_unsubscribe(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    user = uid("ana")
    ana = await login(user)
    saved = await client.put(PREFS, json={"digest": "daily"}, headers=ana)
    assert saved.status_code == 200, saved.text
    read = await client.get(PREFS, headers=ana)
    etag = read.headers["ETag"]
    assert etag == saved.headers["ETag"] and read.json()["digest"] == "daily"

    # The mail's one-click unsubscribe lands while the app shows the form read above.
    async with service_store(settings, "notify") as store:
        unsubscriber = Unsubscriber(store, "test-secret-" + "x" * 20)
        await unsubscriber.apply(tokens.sign("test-secret-" + "x" * 20, user, tokens.DIGEST))

    form = {"digest": "daily", "time_zone": "Europe/Lisbon"}
    stale = await client.put(PREFS, json=form, headers={**ana, "If-Match": etag})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == PROBLEM
    now = await client.get(PREFS, headers=ana)
    assert now.json()["digest"] == "off" and now.json()["time_zone"] == "UTC"  # nothing written

    fresh = await client.put(
        PREFS, json={**form, "digest": "off"}, headers={**ana, "If-Match": now.headers["ETag"]}
    )
    assert fresh.status_code == 200 and fresh.json()["time_zone"] == "Europe/Lisbon"
    assert fresh.headers["ETag"] != now.headers["ETag"]
    for bad in ('W/"42"', "garbage", 'W/"prefs-x"'):
        refused = await client.put(PREFS, json=form, headers={**ana, "If-Match": bad})
        assert refused.status_code == 412 and refused.headers["content-type"] == PROBLEM
    # Without If-Match a save replaces, as before (and "*" means any version).
    assert (await client.put(PREFS, json=form, headers=ana)).status_code == 200
    assert (await client.put(PREFS, json=form, headers={**ana, "If-Match": "*"})).status_code == 200


async def test_if_match_on_first_save(client: httpx.AsyncClient, login: Login) -> None:
    bo = await login(uid("bo"))
    first = await client.get(PREFS, headers=bo)
    assert first.headers["ETag"] == 'W/"prefs-0"'
    ok = await client.put(
        PREFS, json={"digest": "weekly"}, headers={**bo, "If-Match": 'W/"prefs-0"'}
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == 'W/"prefs-1"'
    again = await client.put(
        PREFS, json={"digest": "daily"}, headers={**bo, "If-Match": 'W/"prefs-0"'}
    )
    assert again.status_code == 412


async def test_announcements_switched_off_before_it_was_refused_read_as_on(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    """A document saved back when "off" was accepted: read as what applies, so a client
    saving back what it read is not refused."""
    user = uid("ana")
    ana = await login(user)
    assert (await client.put(PREFS, json={"digest": "daily"}, headers=ana)).status_code == 200
    async with service_store(settings, "notify") as store:
        legacy = {"announcement": {"email": False, "push": False, "in_app": True}}
        await store.collection("preferences").update_one(
            {"_id": user}, {"$set": {"channels": legacy}}
        )
    read = (await client.get(PREFS, headers=ana)).json()
    assert read["channels"] == {"announcement": {"in_app": True}}
    writable = {k: read[k] for k in ("channels", "digest", "time_zone", "muted_groups")}
    again = await client.put(PREFS, json=writable, headers=ana)
    assert again.status_code == 200, again.text

"""Memberships: join policies, requests, invitations, leaving, roles, removal, counts, events."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from shared.backends import make_bus
from shared.events import Event
from shared.events.schemas.activity import TOPIC
from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_groups_support import create_group, member_count
from tests.support import eventually


async def test_open_group_join_leave_and_the_last_owner(
    client: httpx.AsyncClient, login: Login
) -> None:
    ana, bo = await login("ana"), await login("bo")
    gid = (await create_group(client, ana, "open-door"))["id"]
    url = f"/api/v1/groups/{gid}"
    joined = await client.post(url + "/join", headers=bo)
    assert joined.status_code == 200, joined.text
    assert (joined.json()["state"], joined.json()["role"]) == ("active", "member")
    assert (await client.post(url + "/join", headers=bo)).status_code == 200
    await member_count(client, ana, gid, 2)
    assert (await client.post(url + "/leave", headers=bo)).status_code == 204
    assert (await client.post(url + "/leave", headers=bo)).status_code == 204
    await member_count(client, ana, gid, 1)
    last = await client.post(url + "/leave", headers=ana)
    assert last.status_code == 409
    assert (await client.get(url + "/membership", headers=ana)).json()["role"] == "owner"


async def test_request_policy_needs_approval(client: httpx.AsyncClient, login: Login) -> None:
    ana, bo, cy, dee = (
        (await login(n) for n in ("ana", "bo", "cy", "dee")).__aiter__(),
        None,
        None,
        None,
    )
    del ana, bo, cy, dee
    owner, bo, cy, dee = [await login(n) for n in ("ana", "bo", "cy", "dee")]
    gid = (await create_group(client, owner, "by-request", join_policy="request"))["id"]
    url = f"/api/v1/groups/{gid}"
    asked = await client.post(url + "/join", headers=bo)
    assert asked.status_code == 202 and asked.json()["state"] == "requested"
    assert (await client.post(url + "/join", headers=bo)).status_code == 202
    assert (await client.post(url + "/join", headers=cy)).status_code == 202
    pending = (await client.get(url + "/requests", headers=owner)).json()["items"]
    assert [r["user_id"] for r in pending] == ["cy", "bo"]
    assert (await client.get(url + "/requests", headers=bo)).status_code == 403
    assert (await client.post(url + "/requests/cy/approve", headers=bo)).status_code == 403

    approved = await client.post(url + "/requests/bo/approve", headers=owner)
    assert approved.status_code == 200 and approved.json()["state"] == "active"
    rejected = await client.post(url + "/requests/cy/reject", headers=owner)
    assert rejected.status_code == 200 and rejected.json()["state"] == "none"
    assert (await client.post(url + "/requests/cy/approve", headers=owner)).status_code == 404
    assert (await client.post(url + "/requests/dee/approve", headers=owner)).status_code == 404
    assert (await client.get(url + "/requests", headers=owner)).json()["items"] == []
    await member_count(client, owner, gid, 2)
    # A requester may withdraw.
    assert (await client.post(url + "/join", headers=dee)).status_code == 202
    assert (await client.post(url + "/leave", headers=dee)).status_code == 204
    assert (await client.get(url + "/membership", headers=dee)).json()["state"] == "none"


async def test_invite_policy_invitations_accept_and_decline(
    client: httpx.AsyncClient, login: Login
) -> None:
    owner, bo, cy, dee = [await login(n) for n in ("ana", "bo", "cy", "dee")]
    gid = (await create_group(client, owner, "invite-only", join_policy="invite"))["id"]
    url = f"/api/v1/groups/{gid}"
    assert (await client.post(url + "/join", headers=bo)).status_code == 403
    invite = await client.post(url + "/invitations", json={"user_id": "bo"}, headers=owner)
    assert invite.status_code == 201 and invite.json()["state"] == "invited"
    again = await client.post(url + "/invitations", json={"user_id": "bo"}, headers=owner)
    assert again.status_code == 200
    assert (
        await client.post(url + "/invitations", json={"user_id": "cy"}, headers=dee)
    ).status_code == 403
    assert (await client.post(url + "/invitations/accept", headers=cy)).status_code == 404
    accepted = await client.post(url + "/invitations/accept", headers=bo)
    assert accepted.status_code == 200 and accepted.json()["role"] == "member"
    member_again = await client.post(url + "/invitations", json={"user_id": "bo"}, headers=owner)
    assert member_again.status_code == 409
    await client.post(url + "/invitations", json={"user_id": "cy"}, headers=owner)
    declined = await client.post(url + "/invitations/decline", headers=cy)
    assert declined.status_code == 200 and declined.json()["state"] == "none"
    assert (await client.post(url + "/invitations/decline", headers=cy)).status_code == 404
    await member_count(client, owner, gid, 2)
    extra = await client.post(
        url + "/invitations", json={"user_id": "x", "role": "owner"}, headers=owner
    )
    assert extra.status_code == 422


async def test_roles_and_removal(client: httpx.AsyncClient, login: Login) -> None:
    owner, bo, cy, dee = [await login(n) for n in ("ana", "bo", "cy", "dee")]
    gid = (await create_group(client, owner, "roles"))["id"]
    url = f"/api/v1/groups/{gid}"
    for who in (bo, cy, dee):
        assert (await client.post(url + "/join", headers=who)).status_code == 200
    made = await client.put(url + "/members/bo/role", json={"role": "admin"}, headers=owner)
    assert made.status_code == 200 and made.json()["role"] == "admin"
    assert (
        await client.put(url + "/members/cy/role", json={"role": "admin"}, headers=bo)
    ).status_code == 403
    assert (
        await client.put(url + "/members/zed/role", json={"role": "admin"}, headers=owner)
    ).status_code == 404
    assert (
        await client.put(url + "/members/ana/role", json={"role": "member"}, headers=owner)
    ).status_code == 409

    assert (await client.delete(url + "/members/ana", headers=bo)).status_code == 403
    assert (await client.delete(url + "/members/cy", headers=dee)).status_code == 403
    assert (await client.delete(url + "/members/cy", headers=bo)).status_code == 204
    assert (await client.delete(url + "/members/cy", headers=bo)).status_code == 404
    assert (await client.delete(url + "/members/bo", headers=owner)).status_code == 204
    await member_count(client, owner, gid, 2)

    # Hand over ownership: the group keeps an owner at every step.
    assert (
        await client.put(url + "/members/dee/role", json={"role": "owner"}, headers=owner)
    ).status_code == 200
    assert (
        await client.put(url + "/members/ana/role", json={"role": "member"}, headers=owner)
    ).status_code == 200
    assert (await client.post(url + "/leave", headers=dee)).status_code == 409
    members = (await client.get(url + "/members", headers=cy)).json()["items"]
    assert {(m["user_id"], m["role"]) for m in members} == {("ana", "member"), ("dee", "owner")}


async def test_membership_events_carry_what_consumers_need(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    owner, bo = await login("ana"), await login("bo")
    group = await create_group(client, owner, "evented", join_policy="request")
    gid = group["id"]
    await client.post(f"/api/v1/groups/{gid}/join", headers=bo)
    await client.patch(f"/api/v1/groups/{gid}", json={"visibility": "private"}, headers=owner)
    await client.post(f"/api/v1/groups/{gid}/requests/bo/approve", headers=owner)

    received: list[Event] = []

    async def collect(event: Event) -> None:
        received.append(event)

    bus = make_bus(settings, "test-group-events", topics=[TOPIC])
    await bus.start()
    consumer = bus.consumer(
        group=f"observer-{uuid.uuid4().hex[:8]}", topics=[TOPIC], handler=collect
    )
    task = asyncio.create_task(consumer.run())
    try:

        async def ours() -> list[dict[str, Any]]:
            return [{"type": e.type, **e.data} for e in received if e.subject == gid]

        events = await eventually(ours, until=lambda es: len(es) >= 4, within=60)
    finally:
        await consumer.stop()
        await task
        await bus.close()
    # One document's events keep their order; the group's and a membership's are two documents.
    groups = [e for e in events if ".group." in e["type"]]
    memberships = [e for e in events if ".membership." in e["type"]]
    assert [e["type"] for e in groups] == [
        "canteen.activity.group.created.v1",
        "canteen.activity.group.updated.v1",
    ]
    assert [e["change"] for e in memberships] == ["requested", "approved"]
    created, updated = groups
    requested, approved = memberships
    assert created["owner_id"] == "ana" and created["visibility"] == "public"
    assert requested["admin_ids"] == ["ana"] and requested["group_visibility"] == "public"
    assert (updated["visibility"], updated["previous_visibility"]) == ("private", "public")
    assert approved["group_visibility"] == "private" and approved["actor_id"] == "ana"
    assert (approved["previous_state"], approved["state"], approved["role"]) == (
        "requested",
        "active",
        "member",
    )

"""Groups: create, edit, delete; visibility copied onto the group's items; exact counts."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from shared.backends import make_bus
from shared.events.envelope import new_event
from shared.events.schemas.activity import TOPIC
from shared.events.schemas.activity.social import MembershipChanged
from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_groups_support import (
    PROBLEM,
    activity_store,
    create_group,
)
from tests.support import eventually

ITEMS = ("posts", "answers", "comments", "reactions", "timelines")


async def test_create_read_list_and_slug_clash(client: httpx.AsyncClient, login: Login) -> None:
    ana, bo = await login("ana"), await login("bo")
    group = await create_group(
        client, ana, "rust-guild", description="  Crabs  ", visibility="public"
    )
    assert group["owner_id"] == "ana" and group["member_count"] == 1
    assert group["description"] == "Crabs" and group["join_policy"] == "open"
    by_slug = await client.get("/api/v1/groups/by-slug/rust-guild", headers=bo)
    assert by_slug.json()["id"] == group["id"]
    members = (await client.get(f"/api/v1/groups/{group['id']}/members", headers=bo)).json()
    assert [(m["user_id"], m["role"]) for m in members["items"]] == [("ana", "owner")]
    clash = await client.post(
        "/api/v1/groups", json={"name": "Other", "slug": "rust-guild"}, headers=bo
    )
    assert clash.status_code == 409 and clash.headers["content-type"].startswith(PROBLEM)

    await create_group(client, bo, "go-guild")
    await create_group(client, bo, "zig-guild")
    page = (await client.get("/api/v1/groups", params={"limit": 2}, headers=ana)).json()
    assert [g["slug"] for g in page["items"]] == ["zig-guild", "go-guild"]
    rest = await client.get(
        "/api/v1/groups", params={"limit": 2, "cursor": page["next_cursor"]}, headers=ana
    )
    assert [g["slug"] for g in rest.json()["items"]] == ["rust-guild"]
    mine = (await client.get("/api/v1/groups", params={"mine": True}, headers=ana)).json()
    assert [g["slug"] for g in mine["items"]] == ["rust-guild"]


async def test_an_idempotency_key_creates_one_group(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    ana = {**await login("ana"), "Idempotency-Key": "create-once"}
    body = {"name": "Once", "slug": "once"}
    first = await client.post("/api/v1/groups", json=body, headers=ana)
    again = await client.post("/api/v1/groups", json=body, headers=ana)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    async with activity_store(settings) as store:
        assert await store.collection("groups").count({"slug": "once"}) == 1


async def test_edit_rights_and_visibility_reaches_every_item_of_the_group(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    ana, bo = await login("ana"), await login("bo")
    group = await create_group(client, ana, "design")
    gid = group["id"]
    other = await create_group(client, ana, "elsewhere")
    async with activity_store(settings) as store:
        for name in ITEMS:
            for doc_gid in (gid, other["id"]):
                await store.collection(name).insert_one(
                    {
                        "_id": f"{name}-{doc_gid}",
                        "audience": "group",
                        "group_id": doc_gid,
                        "group_visibility": "public",
                    }
                )
        assert (await client.post(f"/api/v1/groups/{gid}/join", headers=bo)).status_code == 200
        denied = await client.patch(f"/api/v1/groups/{gid}", json={"name": "x"}, headers=bo)
        assert denied.status_code == 403
        edited = await client.patch(
            f"/api/v1/groups/{gid}",
            json={"visibility": "private", "name": "Design crew", "join_policy": "invite"},
            headers=ana,
        )
        assert edited.status_code == 200, edited.text
        assert (edited.json()["visibility"], edited.json()["name"]) == ("private", "Design crew")
        for name in ITEMS:
            mine = await store.collection(name).find_one({"_id": f"{name}-{gid}"})
            theirs = await store.collection(name).find_one({"_id": f"{name}-{other['id']}"})
            assert mine is not None and mine["group_visibility"] == "private", name
            assert theirs is not None and theirs["group_visibility"] == "public", name
        back = await client.patch(
            f"/api/v1/groups/{gid}", json={"visibility": "public"}, headers=ana
        )
        assert back.status_code == 200
        # The feeds consumer also applies each visibility change to timelines, in event
        # order: it may replay "private" once more before "public" — wait for convergence.
        for name in ITEMS:

            async def visibility(name: str = name) -> str | None:
                doc = await store.collection(name).find_one({"_id": f"{name}-{gid}"})
                return doc["group_visibility"] if doc else None

            await eventually(visibility, until=lambda v: v == "public")


async def test_delete_hides_the_group_and_its_items(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    ana, bo = await login("ana"), await login("bo")
    admin = await login("root", roles=["admin"])
    group = await create_group(client, ana, "doomed")
    gid = group["id"]
    assert (await client.post(f"/api/v1/groups/{gid}/join", headers=bo)).status_code == 200
    promoted = await client.put(
        f"/api/v1/groups/{gid}/members/bo/role", json={"role": "admin"}, headers=ana
    )
    assert promoted.status_code == 200
    assert (await client.delete(f"/api/v1/groups/{gid}", headers=bo)).status_code == 403
    async with activity_store(settings) as store:
        await store.collection("posts").insert_one(
            {"_id": "p-doomed", "audience": "group", "group_id": gid, "group_visibility": "public"}
        )
        assert (await client.delete(f"/api/v1/groups/{gid}", headers=ana)).status_code == 204
        post = await store.collection("posts").find_one({"_id": "p-doomed"})
        assert post is not None and post["group_visibility"] == "private"
        stored = await store.collection("groups").find_one({"_id": gid})
        assert stored is not None and stored["deleted"] is True
    for who in (ana, bo, admin):
        assert (await client.get(f"/api/v1/groups/{gid}", headers=who)).status_code == 404
        assert (await client.get(f"/api/v1/groups/{gid}/members", headers=who)).status_code == 404
    assert (await client.get("/api/v1/groups/by-slug/doomed", headers=ana)).status_code == 404
    assert (await client.delete(f"/api/v1/groups/{gid}", headers=ana)).status_code == 404

    # An org admin may delete any group, even a private one they are not in.
    secret = await create_group(client, ana, "secret", visibility="private")
    assert (await client.get(f"/api/v1/groups/{secret['id']}", headers=bo)).status_code == 404
    assert (await client.delete(f"/api/v1/groups/{secret['id']}", headers=bo)).status_code == 404
    assert (await client.delete(f"/api/v1/groups/{secret['id']}", headers=admin)).status_code == 204


async def test_bad_input_is_a_problem_and_writes_nothing(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    ana = await login("ana")
    for body in [
        {"name": "X", "slug": "Upper"},
        {"name": "X", "slug": "-dash"},
        {"name": "X", "slug": "a b"},
        {"name": "X", "slug": "ok", "visibility": "secret"},
        {"name": "X", "slug": "ok", "join_policy": "lottery"},
        {"name": "   ", "slug": "ok"},
        {"name": "X", "slug": "ok", "extra": 1},
        {"slug": "ok"},
    ]:
        response = await client.post("/api/v1/groups", json=body, headers=ana)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    async with activity_store(settings) as store:
        assert await store.collection("groups").count() == 0
        assert await store.collection("memberships").count() == 0
    group = await create_group(client, ana, "fine")
    url = f"/api/v1/groups/{group['id']}"
    assert (await client.patch(url, json={"visibility": "hidden"}, headers=ana)).status_code == 422
    assert (await client.patch(url, json={"slug": "other"}, headers=ana)).status_code == 422
    role = await client.put(url + "/members/ana/role", json={"role": "king"}, headers=ana)
    assert role.status_code == 422
    for path in (
        "/api/v1/groups/nope",
        "/api/v1/groups/nope/members",
        "/api/v1/groups/by-slug/nope",
    ):
        assert (await client.get(path, headers=ana)).status_code == 404
    assert (await client.post("/api/v1/groups/nope/join", headers=ana)).status_code == 404


async def test_member_count_is_exact_when_an_event_is_delivered_twice(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    ana = await login("ana")
    group = await create_group(client, ana, "counted")
    gid = group["id"]

    def joined(user: str) -> MembershipChanged:
        return MembershipChanged(
            group_id=gid,
            user_id=user,
            change="joined",
            state="active",
            previous_state="none",
            role="member",
            actor_id=user,
            group_visibility="public",
            group_slug="counted",
            group_name="Counted",
            changed_at=datetime.now(UTC),
        )

    first, later = new_event(joined("x")), new_event(joined("y"))
    bus = make_bus(settings, "test-group-redelivery", topics=[TOPIC])
    await bus.start()
    try:
        for event in (first, first, later):
            await bus.publish(event, topic=TOPIC)
    finally:
        await bus.close()

    async def count() -> int:
        response = await client.get(f"/api/v1/groups/{gid}", headers=ana)
        value: int = response.json()["member_count"]
        return value

    assert await eventually(count, until=lambda n: n >= 3) == 3

"""Who sees what of a group: every read route, everyone's relation, public and private."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.activity.access import Access
from tests.activity.conftest import Login
from tests.activity.test_groups_support import CAST, cast, create_group

MEMBERS = {"owner", "admin", "member"}
MANAGERS = {"owner", "admin"}


def expected(route: str, who: str, visibility: str) -> int:
    public = visibility == "public"
    sees_card = public or who != "outsider"
    if route in ("card", "slug", "membership"):
        return 200 if sees_card else 404
    if route == "members":
        return 200 if public or who in MEMBERS else 404
    if route == "requests":
        if who in MANAGERS:
            return 200
        return 403 if sees_card else 404
    raise AssertionError(route)


@pytest.mark.parametrize("visibility", ["public", "private"])
async def test_the_privacy_matrix_of_group_reads(
    client: httpx.AsyncClient, login: Login, visibility: str
) -> None:
    group, people = await cast(client, login, f"circle-{visibility}", visibility=visibility)
    gid, url = group["id"], f"/api/v1/groups/{group['id']}"
    routes = {
        "card": url,
        "slug": f"/api/v1/groups/by-slug/{group['slug']}",
        "membership": url + "/membership",
        "members": url + "/members",
        "requests": url + "/requests",
    }
    failures = []
    for who in CAST:
        for route, path in routes.items():
            response = await client.get(path, headers=people[who])
            want = expected(route, who, visibility)
            if response.status_code != want:
                failures.append((who, route, response.status_code, want))
            elif want >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")
        listed = await client.get("/api/v1/groups", params={"limit": 100}, headers=people[who])
        in_list = gid in {g["id"] for g in listed.json()["items"]}
        want_listed = visibility == "public" or who in MEMBERS or who == "orgadmin"
        if in_list != want_listed:
            failures.append((who, "list", in_list, want_listed))
        mine = await client.get("/api/v1/groups", params={"mine": "true"}, headers=people[who])
        if (gid in {g["id"] for g in mine.json()["items"]}) != (who in MEMBERS):
            failures.append((who, "mine", mine.json(), who in MEMBERS))
    assert failures == []


async def test_what_each_one_sees_of_their_own_membership(
    client: httpx.AsyncClient, login: Login
) -> None:
    group, people = await cast(client, login, "own-view", visibility="private")
    url = f"/api/v1/groups/{group['id']}/membership"
    states = {
        who: (await client.get(url, headers=people[who])).json()
        for who in CAST
        if who != "outsider"
    }
    assert {w: (s["state"], s["role"]) for w, s in states.items()} == {
        "owner": ("active", "owner"),
        "admin": ("active", "admin"),
        "member": ("active", "member"),
        "requester": ("requested", None),
        "invitee": ("invited", None),
        "orgadmin": ("none", None),
    }
    members = (
        await client.get(f"/api/v1/groups/{group['id']}/members", headers=people["member"])
    ).json()
    assert {(m["user_id"], m["role"]) for m in members["items"]} == {
        ("owner", "owner"),
        ("admin", "admin"),
        ("member", "member"),
    }


async def test_non_members_cannot_act_on_a_private_group_they_cannot_see(
    client: httpx.AsyncClient, login: Login
) -> None:
    group, people = await cast(client, login, "hidden", visibility="private")
    url = f"/api/v1/groups/{group['id']}"
    outsider = people["outsider"]
    for method, path, body in [
        ("POST", "/join", None),
        ("POST", "/leave", None),
        ("POST", "/invitations", {"user_id": "x"}),
        ("POST", "/invitations/accept", None),
        ("POST", "/requests/requester/approve", None),
        ("PUT", "/members/member/role", {"role": "admin"}),
        ("DELETE", "/members/member", None),
        ("PATCH", "", {"name": "mine now"}),
        ("DELETE", "", None),
    ]:
        response = await client.request(method, url + path, json=body, headers=outsider)
        assert response.status_code == 404, (method, path, response.text)
    # The org admin sees the card (moderation) but is not let in by joining.
    assert (await client.post(url + "/join", headers=people["orgadmin"])).status_code == 403
    assert (await client.get(url + "/members", headers=people["orgadmin"])).status_code == 404


async def test_a_post_written_while_its_group_turns_private_is_private(
    client: httpx.AsyncClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group turns private between the post's read of the group and the post's write."""
    owner, outsider = await login("ana"), await login("zed")
    gid = (await create_group(client, owner, "turning"))["id"]
    read = Access.group
    turned: list[int] = []

    async def read_then_turned(self: Access, group_id: str) -> Any:
        doc = await read(self, group_id)
        if group_id == gid and not turned:
            turned.append(0)
            patched = await client.patch(
                f"/api/v1/groups/{gid}", json={"visibility": "private"}, headers=owner
            )
            turned[0] = patched.status_code
        return doc  # as read before the change

    monkeypatch.setattr(Access, "group", read_then_turned)
    created = await client.post(
        "/api/v1/posts", json={"body_md": "just for us", "group_id": gid}, headers=owner
    )
    assert turned == [200]
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]
    assert (await client.get(f"/api/v1/posts/{post_id}", headers=outsider)).status_code == 404
    assert (await client.get(f"/api/v1/posts/{post_id}", headers=owner)).status_code == 200

"""The visibility matrix: {member, non-member, org admin} x {org, public-group, private-group}
x {hits, highlights, facet counts, totals, suggest, group docs}. Private content reaches
members only; org admins are not members."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.events.schemas.activity import posts as p
from shared.events.schemas.activity import social as s
from tests.conftest import Login
from tests.search.conftest import Publish
from tests.support import eventually

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def group(gid: str, visibility: str) -> s.GroupCreated:
    return s.GroupCreated(
        id=gid,
        slug=gid,
        name=f"Zebra {visibility} circle",
        visibility=visibility,
        join_policy="invite",
        owner_id="own",
        actor_id="own",
        created_at=NOW,
    )


def member(gid: str, user: str, visibility: str) -> s.MembershipChanged:
    return s.MembershipChanged(
        group_id=gid,
        user_id=user,
        change="joined",
        state="active",
        previous_state="none",
        role="member",
        actor_id=user,
        group_visibility=visibility,
        group_slug=gid,
        group_name=gid,
        changed_at=NOW,
    )


def post(pid: str, title: str, **kw: Any) -> p.PostCreated:
    return p.PostCreated(
        id=pid,
        kind="note",
        author_id="own",
        title=title,
        text=f"{title} zebra stripes",
        topics=[pid + "-topic"],
        created_at=NOW,
        **{"audience": "org", **kw},
    )


@pytest.fixture
async def world(client: httpx.AsyncClient, login: Login, publish: Publish) -> dict[str, Any]:
    await publish(
        group("gpub", "public"),
        group("gpriv", "private"),
        member("gpriv", "mia", "private"),
        member("gpub", "nia", "public"),
        post("orgpost", "Zebrafish org notes"),
        post(
            "pubpost",
            "Zebrawood public notes",
            audience="group",
            group_id="gpub",
            group_visibility="public",
        ),
        post(
            "privpost",
            "Zebracorn private notes",
            audience="group",
            group_id="gpriv",
            group_visibility="private",
        ),
    )
    users = {
        "member": await login("mia"),
        "non-member": await login("nia"),
        "org admin": await login("oda", roles=["admin"]),
    }

    async def member_sees_all() -> int:
        r = await client.get("/api/v1/search", params={"q": "zebra"}, headers=users["member"])
        return int(r.json()["total"])

    await eventually(member_sees_all, until=lambda n: n == 5, within=90)  # 3 posts + 2 groups
    return users


VISIBLE = {
    "member": {"orgpost", "pubpost", "privpost", "gpub", "gpriv"},
    "non-member": {"orgpost", "pubpost", "gpub"},
    "org admin": {"orgpost", "pubpost", "gpub"},
}


@pytest.mark.parametrize("who", ["member", "non-member", "org admin"])
async def test_search_reveals_private_groups_to_members_only(
    client: httpx.AsyncClient, world: dict[str, Any], who: str
) -> None:
    auth = world[who]
    r = await client.get("/api/v1/search", params={"q": "zebra", "limit": 50}, headers=auth)
    body = r.json()
    assert {h["id"] for h in body["items"]} == VISIBLE[who]
    assert body["total"] == len(VISIBLE[who])
    text = r.text.lower()
    assert ("zebracorn" in text) == (who == "member")  # titles and highlights
    groups = {f["value"] for f in body["facets"].get("group", [])}
    topics = {f["value"] for f in body["facets"].get("topic", [])}
    assert ("gpriv" in groups) == (who == "member")
    assert ("privpost-topic" in topics) == (who == "member")
    types = {f["value"]: f["count"] for f in body["facets"]["type"]}
    assert types["group"] == (2 if who == "member" else 1)
    # A filter on the private group never reveals it to a non-member.
    filtered = await client.get("/api/v1/search", params={"group": "gpriv"}, headers=auth)
    assert (filtered.json()["total"] > 0) == (who == "member")
    suggest = await client.get("/api/v1/suggest", params={"q": "zebrac"}, headers=auth)
    assert suggest.status_code == 200
    assert ("Zebracorn" in suggest.text) == (who == "member")
    topic_suggest = await client.get("/api/v1/suggest", params={"q": "privpost"}, headers=auth)
    assert ("privpost-topic" in topic_suggest.text) == (who == "member")


async def test_a_group_turning_private_hides_its_posts(
    client: httpx.AsyncClient, world: dict[str, Any], publish: Publish
) -> None:
    await publish(
        s.GroupUpdated(
            id="gpub",
            slug="gpub",
            name="Zebra public circle",
            visibility="private",
            join_policy="invite",
            owner_id="own",
            actor_id="own",
            previous_visibility="public",
            revision=2,
            updated_at=NOW,
        )
    )

    async def non_member_view() -> set[str]:
        r = await client.get("/api/v1/search", params={"q": "zebra"}, headers=world["member"])
        return {h["id"] for h in r.json()["items"]}

    # mia is not in gpub: its post and the group itself disappear for her.
    await eventually(non_member_view, until=lambda ids: ids == {"orgpost", "privpost", "gpriv"})

"""Journey 2, share a job aid.

1. Cara creates a public group "Field service"; Hana joins it. Igor follows #forklifts.
2. Cara shares a resource in the group: a link to a how-to, with a description, tagged
   #forklifts.
3. Hana (a group member) and Igor (a #forklifts follower) see it in their home feed.
4. Hana, Igor and Jon react to it: Cara gets one notification that aggregates the three.
5. Anyone finds it by words of its title, by its tag, and by words of its description.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.journeys.conftest import Api
from tests.support import eventually

TAG = "forklifts"
TITLE = "Daily forklift battery checklist"
DESCRIPTION = "Print it and tape it to the charging bay: electrolyte, cables, terminals."


async def test_share_a_job_aid(api: Api) -> None:
    await api.join("cara", "hana", "igor", "jon")
    group = await api.ok(
        "POST",
        "/api/v1/groups",
        as_="cara",
        json={"name": "Field service", "slug": "field-service", "visibility": "public"},
    )
    await api.ok("POST", f"/api/v1/groups/{group['id']}/join", as_="hana")
    await api.ok("PUT", f"/api/v1/follows/topics/{TAG}", as_="igor")

    resource = await api.ok(
        "POST",
        "/api/v1/posts",
        as_="cara",
        json={
            "kind": "resource",
            "title": TITLE,
            "body_md": DESCRIPTION,
            "url": "https://wiki.example.org/howto/forklift-battery",
            "resource_type": "how-to",
            "tags": [TAG],
            "group_id": group["id"],
        },
    )
    assert resource["kind"] == "resource" and resource["group_id"] == group["id"]

    # 3. Members and topic followers see it at home.
    for reader in ("hana", "igor"):

        async def home(reader: str = reader) -> list[str]:
            body = await api.ok("GET", "/api/v1/feeds/home", as_=reader)
            return [item["id"] for item in body["items"]]

        await eventually(home, until=lambda ids: resource["id"] in ids, within=60)

    # 4. Three reactions, one notification for Cara.
    for who, kind in (("hana", "like"), ("igor", "thanks"), ("jon", "insightful")):
        path = f"/api/v1/posts/{resource['id']}/reactions"
        await api.ok("PUT", path, as_=who, json={"kind": kind})

    async def reaction_groups() -> list[dict[str, Any]]:
        body = await api.ok("GET", "/api/v1/notifications", as_="cara")
        return [g for g in body["items"] if g["type"] == "reaction"]

    groups = await eventually(
        reaction_groups, until=lambda gs: sum(g["actor_count"] for g in gs) >= 3, within=60
    )
    assert len(groups) == 1, groups
    [group_note] = groups
    assert group_note["target"]["id"] == resource["id"]
    assert group_note["actor_count"] == 3 and sorted(group_note["actors"]) == [
        "hana",
        "igor",
        "jon",
    ]
    unread = await api.ok("GET", "/api/v1/notifications/unread-count", as_="cara")
    assert unread["unread"] >= 1

    # 5. Findable by title, tag and description, by someone outside the group.
    searches: list[dict[str, Any]] = [
        {"q": "forklift battery checklist"},
        {"q": "", "topic": TAG},
        {"q": "electrolyte terminals"},
        {"q": "electrolyte", "type": "resource"},
    ]
    for params in searches:

        async def hits(params: dict[str, Any] = params) -> list[str]:
            body = await api.ok("GET", "/api/v1/search", as_="jon", params=params)
            return [h["id"] for h in body["items"]]

        await eventually(hits, until=lambda ids: resource["id"] in ids, within=60)

"""Helpers of the groups tests: a cast of people around one group, and the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from shared.backends import make_store
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.activity.conftest import Login
from tests.support import eventually

PROBLEM = "application/problem+json"
CAST = ("owner", "admin", "member", "requester", "invitee", "outsider", "orgadmin")


@asynccontextmanager
async def activity_store(settings: CanteenSettings) -> AsyncIterator[DocumentStore]:
    store = make_store(settings, "activity")
    try:
        yield store
    finally:
        await store.close()


async def create_group(
    client: httpx.AsyncClient, auth: dict[str, str], slug: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": slug.title(), "slug": slug, **fields}
    response = await client.post("/api/v1/groups", json=body, headers=auth)
    assert response.status_code == 201, response.text
    group: dict[str, Any] = response.json()
    return group


async def member_count(client: httpx.AsyncClient, auth: dict[str, str], gid: str, n: int) -> None:
    async def probe() -> int:
        response = await client.get(f"/api/v1/groups/{gid}", headers=auth)
        assert response.status_code == 200, response.text
        count: int = response.json()["member_count"]
        return count

    await eventually(probe, until=lambda c: c == n)


async def cast(
    client: httpx.AsyncClient, login: Login, slug: str, *, visibility: str
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """A request-policy group with one person in each relation to it (see CAST)."""
    people = {name: await login(name) for name in CAST if name != "orgadmin"}
    people["orgadmin"] = await login("orgadmin", roles=["admin"])
    group = await create_group(
        client, people["owner"], slug, join_policy="request", description="all about it"
    )
    gid = group["id"]
    url = f"/api/v1/groups/{gid}"
    for name in ("admin", "member", "invitee"):
        invited = await client.post(
            url + "/invitations", json={"user_id": name}, headers=people["owner"]
        )
        assert invited.status_code == 201, invited.text
    for name in ("admin", "member"):
        accepted = await client.post(url + "/invitations/accept", headers=people[name])
        assert accepted.status_code == 200, accepted.text
    promoted = await client.put(
        url + "/members/admin/role", json={"role": "admin"}, headers=people["owner"]
    )
    assert promoted.status_code == 200, promoted.text
    asked = await client.post(url + "/join", headers=people["requester"])
    assert asked.status_code == 202, asked.text
    if visibility == "private":
        patched = await client.patch(url, json={"visibility": "private"}, headers=people["owner"])
        assert patched.status_code == 200, patched.text
    return group, people

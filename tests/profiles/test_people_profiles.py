"""People: my profile, self and admin edits, validation, handles, deactivation."""

from __future__ import annotations

import httpx
import pytest

from services.profiles.people.repository import PeopleRepository
from services.profiles.people.service import PeopleService, PersonNotFound
from shared.http.auth.principal import Principal
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.profiles.test_people_support import (
    PROBLEM,
    add_person,
    admin,
    dev_auto_provision,
    profiles_store,
)

__all__ = ["dev_auto_provision"]


async def test_my_profile_is_created_from_the_token_in_dev_mode(
    client: httpx.AsyncClient, login: Login
) -> None:
    auth = await login("u-ana")
    first = await client.get("/api/v1/people/me", headers=auth)
    assert first.status_code == 200, first.text
    me = first.json()
    assert me["id"] == "u-ana" and me["handle"] == "u-ana" and me["active"] is True
    assert me["hidden_topics"] == []
    again = await client.get("/api/v1/people/me", headers=auth)
    assert again.json() == me


async def test_a_person_edits_their_own_profile(client: httpx.AsyncClient, login: Login) -> None:
    auth = await login("ana")
    await add_person(client, login, "ana")
    response = await client.patch(
        "/api/v1/people/me",
        json={
            "handle": "Ana.Silva",
            "bio": "Platform engineer",
            "languages": ["pt-BR", "en"],
            "time_zone": "Europe/Lisbon",
            "links": [{"label": "Blog", "url": "https://ana.example"}],
        },
        headers=auth,
    )
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["handle"] == "ana.silva"
    assert me["languages"] == ["pt-BR", "en"] and me["time_zone"] == "Europe/Lisbon"
    assert me["hidden_topics"] == []  # set by the expertise feature; its owner sees it
    by_handle = await client.get("/api/v1/people/by-handle/Ana.Silva", headers=await login("bo"))
    assert by_handle.status_code == 200
    assert by_handle.json()["bio"] == "Platform engineer"
    assert by_handle.json()["hidden_topics"] is None  # a private preference


async def test_only_the_owner_or_an_admin_edits_a_profile(
    client: httpx.AsyncClient, login: Login
) -> None:
    await add_person(client, login, "ana")
    other = await client.patch(
        "/api/v1/people/ana", json={"bio": "hacked"}, headers=await login("bo")
    )
    assert other.status_code == 403
    assert other.headers["content-type"] == PROBLEM
    own_org_field = await client.patch(
        "/api/v1/people/ana", json={"title": "CEO"}, headers=await login("ana")
    )
    assert own_org_field.status_code == 403
    by_admin = await client.patch(
        "/api/v1/people/ana", json={"title": "Staff engineer"}, headers=await admin(login)
    )
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["title"] == "Staff engineer"
    assert (await client.get("/api/v1/people/ana", headers=await login("bo"))).json()["bio"] is None


async def test_only_admins_create_people(client: httpx.AsyncClient, login: Login) -> None:
    response = await client.post(
        "/api/v1/people", json={"id": "x", "display_name": "X"}, headers=await login("bo")
    )
    assert response.status_code == 403
    assert (await client.get("/api/v1/people/x", headers=await login("bo"))).status_code == 404


async def test_a_handle_is_unique(client: httpx.AsyncClient, login: Login) -> None:
    await add_person(client, login, "ana")
    await add_person(client, login, "bo")
    taken = await client.patch(
        "/api/v1/people/me", json={"handle": "ANA"}, headers=await login("bo")
    )
    assert taken.status_code == 409
    assert taken.headers["content-type"] == PROBLEM
    assert taken.json()["type"] == "urn:canteen:problem:handle-taken"
    duplicate = await client.post(
        "/api/v1/people",
        json={"id": "carla", "handle": "bo", "display_name": "Carla"},
        headers=await admin(login),
    )
    assert duplicate.status_code == 409
    same_id = await client.post(
        "/api/v1/people", json={"id": "bo", "display_name": "Bo"}, headers=await admin(login)
    )
    assert same_id.status_code == 409
    assert (await client.get("/api/v1/people/carla", headers=await login("bo"))).status_code == 404


async def test_a_derived_handle_avoids_taken_ones(client: httpx.AsyncClient, login: Login) -> None:
    await add_person(client, login, "p1", handle="ana-silva")
    response = await client.post(
        "/api/v1/people",
        json={"id": "p2", "display_name": "Ana Silva"},
        headers=await admin(login),
    )
    assert response.status_code == 201, response.text
    assert response.json()["handle"] == "ana-silva-2"


@pytest.mark.parametrize(
    "patch",
    [
        {"handle": "a"},
        {"handle": "ana silva"},
        {"handle": None},
        {"display_name": "   "},
        {"avatar_url": "javascript:alert(1)"},
        {"avatar_url": "ftp://files.example/a.png"},
        {"links": [{"label": "x", "url": "notaurl"}]},
        {"links": [{"label": "x"}]},
        {"time_zone": "Mars/Olympus"},
        {"languages": ["english!"]},
        {"languages": ["en"] * 21},
        {"bio": "x" * 4001},
        {"unknown": 1},
        {"hidden_topics": ["x"]},
        {"manager_id": "nobody"},
        {"manager_id": "ana"},
        {"active": False},
    ],
)
async def test_bad_input_is_a_4xx_problem_and_changes_nothing(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings, patch: dict[str, object]
) -> None:
    before = await add_person(client, login, "ana")
    response = await client.patch("/api/v1/people/ana", json=patch, headers=await admin(login))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    after = (await client.get("/api/v1/people/ana", headers=await login("ana"))).json()
    assert after == before
    async with profiles_store(settings) as store:
        doc = await store.collection("people").find_one({"_id": "ana"})
    assert doc is not None and doc["revision"] == 0


async def test_malformed_json_is_a_400(client: httpx.AsyncClient, login: Login) -> None:
    await add_person(client, login, "ana")
    response = await client.patch(
        "/api/v1/people/me",
        content=b"{not json",
        headers={**await login("ana"), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


async def test_unknown_people_are_404(client: httpx.AsyncClient, login: Login) -> None:
    auth = await login("bo")
    for path in (
        "/api/v1/people/nobody",
        "/api/v1/people/by-handle/nobody",
        "/api/v1/people/nobody/reports",
        "/api/v1/people/nobody/manager-chain",
    ):
        response = await client.get(path, headers=auth)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
    assert (await client.get("/api/v1/people/nobody")).status_code == 401


async def test_a_create_with_an_idempotency_key_happens_once(
    client: httpx.AsyncClient, login: Login
) -> None:
    auth = {**await admin(login), "Idempotency-Key": "create-ana-1"}
    body = {"id": "ana", "display_name": "Ana"}
    first = await client.post("/api/v1/people", json=body, headers=auth)
    second = await client.post("/api/v1/people", json=body, headers=auth)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()


async def test_deactivation_hides_from_listings_and_reactivation_brings_back(
    client: httpx.AsyncClient, login: Login
) -> None:
    await add_person(client, login, "ana", department="R&D")
    await add_person(client, login, "bo", department="R&D")
    auth = await login("carla")

    async def listed(query: str = "") -> list[str]:
        page = await client.get(f"/api/v1/people?department=R%26D{query}", headers=auth)
        assert page.status_code == 200, page.text
        return [p["id"] for p in page.json()["items"]]

    assert await listed() == ["ana", "bo"]
    denied = await client.post("/api/v1/people/ana/deactivate", headers=auth)
    assert denied.status_code == 403
    gone = await client.post("/api/v1/people/ana/deactivate", headers=await admin(login))
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert await listed() == ["bo"]
    still = await client.get("/api/v1/people/ana", headers=auth)
    assert still.status_code == 200 and still.json()["active"] is False
    assert (
        await client.get("/api/v1/people?include_inactive=true", headers=auth)
    ).status_code == 403
    everyone = await client.get("/api/v1/people?include_inactive=true", headers=await admin(login))
    assert [p["id"] for p in everyone.json()["items"]] == ["ana", "bo"]
    back = await client.post("/api/v1/people/ana/reactivate", headers=await admin(login))
    assert back.status_code == 200 and back.json()["active"] is True
    assert await listed() == ["ana", "bo"]


async def test_outside_dev_mode_my_profile_waits_for_provisioning(
    client: httpx.AsyncClient, settings: CanteenSettings
) -> None:
    async with profiles_store(settings) as store:
        people = PeopleService(
            PeopleRepository(store), on_events=lambda: None, auto_provision=False
        )
        with pytest.raises(PersonNotFound):
            await people.me(Principal(user_id="zed", name="Zed"))
        assert await store.collection("people").find_one({"_id": "zed"}) is None

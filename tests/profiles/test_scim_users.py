"""SCIM Users: provisioning as Entra ID and Okta do it, filters, pages, errors, events."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.profiles.test_people_support import (
    Observer,
    add_person,
    dev_auto_provision,
    profiles_store,
)
from tests.profiles.test_scim_tokens import SCIM, issue

__all__ = ["dev_auto_provision"]

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
async def scim(client: httpx.AsyncClient, login: Login) -> dict[str, str]:
    issued = await issue(client, login)
    return {"Authorization": f"Bearer {issued['token']}", "Content-Type": SCIM}


async def provision(
    client: httpx.AsyncClient, scim: dict[str, str], user_name: str, **attrs: Any
) -> dict[str, Any]:
    body = {"schemas": [USER, ENTERPRISE], "userName": user_name, **attrs}
    response = await client.post("/scim/v2/Users", json=body, headers=scim)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == SCIM
    user: dict[str, Any] = response.json()
    assert response.headers["location"] == user["meta"]["location"]
    return user


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def assert_scim_error(response: httpx.Response, status: int, scim_type: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == SCIM
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    assert body.get("scimType") == scim_type


async def test_a_provisioned_user_is_a_person(
    client: httpx.AsyncClient, scim: dict[str, str], login: Login
) -> None:
    user = await provision(
        client,
        scim,
        "Ana.Silva@example.org",
        externalId="oid-ana",
        name={"givenName": "Ana", "familyName": "Silva"},
        title="Engineer",
        emails=[{"value": "ana.silva@example.org", "type": "work", "primary": True}],
        **{ENTERPRISE: {"department": "R&D"}},
    )
    assert user["id"] == "oid-ana" and user["userName"] == "Ana.Silva@example.org"
    assert "displayName" not in user  # unassigned, as sent
    person = (await client.get("/api/v1/people/oid-ana", headers=await login("bo"))).json()
    assert person["handle"] == "ana.silva" and person["display_name"] == "Ana Silva"
    assert person["title"] == "Engineer" and person["department"] == "R&D"
    boss = await provision(client, scim, "boss@example.org", displayName="The Boss")
    moved = await client.put(
        "/scim/v2/Users/oid-ana",
        json={
            "schemas": [USER, ENTERPRISE],
            "userName": "ana.silva@example.org",
            "displayName": "Ana S.",
            ENTERPRISE: {"manager": {"value": boss["id"]}},
        },
        headers=scim,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert "title" not in moved.json() and "emails" not in moved.json()  # PUT replaces
    person = (await client.get("/api/v1/people/oid-ana", headers=await login("bo"))).json()
    assert person["manager_id"] == boss["id"] and person["display_name"] == "Ana S."
    assert person["handle"] == "ana.silva" and person["title"] is None


async def test_entra_style_patches(
    client: httpx.AsyncClient, scim: dict[str, str], login: Login
) -> None:
    boss = await provision(client, scim, "boss@example.org")
    user = await provision(client, scim, "bo@example.org", displayName="Bo")
    url = f"/scim/v2/Users/{user['id']}"
    response = await client.patch(
        url,
        json=patch(
            {"op": "Replace", "path": "displayName", "value": "Bo Berg"},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "bo@example.org"},
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Ops"},
            {"op": "Replace", "path": "active", "value": "False"},
        ),
        headers=scim,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["displayName"] == "Bo Berg" and body["active"] is False
    assert body["emails"] == [{"type": "work", "value": "bo@example.org"}]
    assert body[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert body[ENTERPRISE]["department"] == "Ops"
    person = (await client.get(f"/api/v1/people/{user['id']}", headers=await login("x"))).json()
    assert person["active"] is False and person["department"] == "Ops"
    listed = await client.get("/api/v1/people", headers=await login("x"))
    assert user["id"] not in [p["id"] for p in listed.json()["items"]]


async def test_okta_style_patches(client: httpx.AsyncClient, scim: dict[str, str]) -> None:
    user = await provision(client, scim, "carla@example.org", name={"givenName": "Carla"})
    url = f"/scim/v2/Users/{user['id']}"
    off = await client.patch(
        url, json=patch({"op": "replace", "value": {"active": False}}), headers=scim
    )
    assert off.status_code == 200 and off.json()["active"] is False
    renamed = await client.patch(
        url,
        json=patch(
            {"op": "replace", "path": "name.familyName", "value": "Costa"},
            {"op": "replace", "value": {"active": True, "title": "Designer"}},
        ),
        headers=scim,
    )
    body = renamed.json()
    assert body["name"] == {"givenName": "Carla", "familyName": "Costa"}
    assert body["active"] is True and body["title"] == "Designer"
    removed = await client.patch(url, json=patch({"op": "remove", "path": "title"}), headers=scim)
    assert "title" not in removed.json()


async def test_scim_writes_publish_person_events(
    client: httpx.AsyncClient, scim: dict[str, str], settings: CanteenSettings
) -> None:
    person_id = f"oid-{uuid.uuid4().hex[:12]}"
    async with Observer(settings) as observer:
        await provision(client, scim, f"{person_id}@example.org", externalId=person_id)
        url = f"/scim/v2/Users/{person_id}"
        await client.patch(
            url, json=patch({"op": "replace", "path": "title", "value": "Dr"}), headers=scim
        )
        await client.patch(
            url, json=patch({"op": "replace", "value": {"active": False}}), headers=scim
        )
        assert (await client.delete(url, headers=scim)).status_code == 204
        types = await observer.types_of(person_id, 3)
    assert types == [
        "canteen.profiles.person.created.v1",
        "canteen.profiles.person.updated.v1",
        "canteen.profiles.person.deactivated.v1",
    ]


async def test_person_events_carry_the_directory_work_email(
    client: httpx.AsyncClient, scim: dict[str, str], settings: CanteenSettings, login: Login
) -> None:
    """The primary valid address, normalised; an email change alone is news (notify mails
    there); other SCIM-only changes are not; the people API still shows no address."""
    person_id = f"oid-{uuid.uuid4().hex[:12]}"
    emails = [
        {"value": "not an address", "type": "work", "primary": True},
        {"value": "ana@home.example", "type": "home"},
        {"value": "Ana.Silva@Corp.Example", "type": "work"},
    ]
    async with Observer(settings) as observer:
        await provision(
            client, scim, f"{person_id}@example.org", externalId=person_id, emails=emails
        )
        url = f"/scim/v2/Users/{person_id}"
        new_address = {"op": "replace", "path": "emails", "value": [{"value": "ana@corp.example"}]}
        assert (await client.patch(url, json=patch(new_address), headers=scim)).status_code == 200
        same_address = {"op": "replace", "path": "externalId", "value": f"{person_id}-x"}
        assert (await client.patch(url, json=patch(same_address), headers=scim)).status_code == 200
        no_address = {"op": "remove", "path": "emails"}
        assert (await client.patch(url, json=patch(no_address), headers=scim)).status_code == 200
        await observer.types_of(person_id, 3)
        events = observer.of(person_id)
    assert [e.type.split(".")[-2] for e in events] == ["created", "updated", "updated"]
    # the invalid primary is skipped; a work address before a home one; the domain lowercased
    assert [e.data["email"] for e in events] == ["Ana.Silva@corp.example", "ana@corp.example", None]
    person = (await client.get(f"/api/v1/people/{person_id}", headers=await login("bo"))).json()
    assert "email" not in person and "ana@corp.example" not in str(person)


async def test_delete_deprovisions_and_keeps_the_author(
    client: httpx.AsyncClient, scim: dict[str, str], login: Login
) -> None:
    user = await provision(client, scim, "dan@example.org", externalId="oid-dan")
    assert (await client.delete("/scim/v2/Users/oid-dan", headers=scim)).status_code == 204
    assert_scim_error(await client.get("/scim/v2/Users/oid-dan", headers=scim), 404, None)
    assert_scim_error(await client.delete("/scim/v2/Users/oid-dan", headers=scim), 404, None)
    person = (await client.get("/api/v1/people/oid-dan", headers=await login("x"))).json()
    assert person["active"] is False and person["handle"] == "dan"
    again = await provision(client, scim, "dan@example.org", externalId="oid-dan", active=True)
    assert again["id"] == user["id"] and again["active"] is True


async def test_a_post_adopts_a_person_an_admin_made(
    client: httpx.AsyncClient, scim: dict[str, str], login: Login
) -> None:
    await add_person(client, login, "oid-eve", handle="eve", bio="kept")
    user = await provision(client, scim, "eve@example.org", externalId="oid-eve")
    assert user["id"] == "oid-eve"
    person = (await client.get("/api/v1/people/oid-eve", headers=await login("x"))).json()
    assert person["handle"] == "eve" and person["bio"] == "kept"
    twice = await client.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": "other@example.org", "externalId": "oid-eve"},
        headers=scim,
    )
    assert_scim_error(twice, 409, "uniqueness")


async def test_filters_and_pages(client: httpx.AsyncClient, scim: dict[str, str]) -> None:
    for n in range(5):
        await provision(client, scim, f"user{n}@Example.org", externalId=f"ext-{n}")

    async def query(params: dict[str, str]) -> dict[str, Any]:
        response = await client.get("/scim/v2/Users", params=params, headers=scim)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == SCIM
        body: dict[str, Any] = response.json()
        return body

    found = await query({"filter": 'userName eq "USER2@example.org"'})
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == "ext-2"
    by_external = await query({"filter": 'externalId eq "ext-3"'})
    assert [u["userName"] for u in by_external["Resources"]] == ["user3@Example.org"]
    none = await query({"filter": 'externalId eq "EXT-3"'})  # caseExact
    assert none["totalResults"] == 0 and none["Resources"] == []
    both = await query({"filter": 'externalId eq "ext-1" and active eq true'})
    assert both["totalResults"] == 1
    page = await query({"startIndex": "2", "count": "2"})
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [u["id"] for u in page["Resources"]] == ["ext-1", "ext-2"]
    projected = await query({"filter": 'externalId eq "ext-0"', "attributes": "userName"})
    assert set(projected["Resources"][0]) == {"schemas", "id", "userName"}
    for bad in ('title eq "x"', 'userName co "user"', 'userName eq "a" or id eq "b"', "(("):
        response = await client.get("/scim/v2/Users", params={"filter": bad}, headers=scim)
        assert_scim_error(response, 400, "invalidFilter")


async def test_bad_input_is_a_scim_4xx_and_writes_nothing(
    client: httpx.AsyncClient, scim: dict[str, str], settings: CanteenSettings
) -> None:
    user = await provision(client, scim, "fay@example.org")
    url = f"/scim/v2/Users/{user['id']}"
    cases: list[tuple[str, str, Any, int, str | None]] = [
        ("POST", "/scim/v2/Users", {"schemas": [USER]}, 400, "invalidValue"),
        ("POST", "/scim/v2/Users", {"userName": "fay@example.org"}, 409, "uniqueness"),
        ("POST", "/scim/v2/Users", [1, 2], 400, "invalidSyntax"),
        ("POST", "/scim/v2/Users", {"userName": "x" * 300}, 400, "invalidValue"),
        ("PUT", url, {"userName": "g@x.org", "emails": "nope"}, 400, "invalidValue"),
        ("PATCH", url, {"Operations": []}, 400, "invalidSyntax"),
        ("PATCH", url, patch({"op": "move", "path": "title"}), 400, "invalidSyntax"),
        ("PATCH", url, patch({"op": "remove"}), 400, "noTarget"),
        ("PATCH", url, patch({"op": "replace", "path": "id", "value": "x"}), 400, "mutability"),
        ("PATCH", url, patch({"op": "replace", "path": "urn:x:y", "value": 1}), 400, "invalidPath"),
        ("PATCH", url, patch({"op": "replace", "path": "title[", "value": 1}), 400, "invalidPath"),
        (
            "PATCH",
            url,
            patch({"op": "replace", "path": "active", "value": "maybe"}),
            400,
            "invalidValue",
        ),
        (
            "PATCH",
            url,
            patch({"op": "add", "path": f"{ENTERPRISE}:manager", "value": "ghost"}),
            400,
            "invalidValue",
        ),
        ("PATCH", "/scim/v2/Users/ghost", patch({"op": "remove", "path": "title"}), 404, None),
    ]
    for method, path, body, status, scim_type in cases:
        response = await client.request(method, path, json=body, headers=scim)
        assert_scim_error(response, status, scim_type)
    malformed = await client.post("/scim/v2/Users", content=b"{oops", headers=scim)
    assert_scim_error(malformed, 400, "invalidSyntax")
    assert_scim_error(await client.get("/scim/v2/Nope", headers=scim), 404, None)
    assert_scim_error(await client.delete("/scim/v2/Schemas", headers=scim), 405, None)
    assert_scim_error(await client.post("/scim/v2/.search", headers=scim), 501, None)
    async with profiles_store(settings) as store:
        people = await store.collection("people").find({})
    assert [(p["_id"], p["revision"]) for p in people] == [(user["id"], 0)]


async def test_discovery_documents(client: httpx.AsyncClient, scim: dict[str, str]) -> None:
    config = (await client.get("/scim/v2/ServiceProviderConfig", headers=scim)).json()
    assert config["patch"]["supported"] is True and config["filter"]["maxResults"] == 200
    types = (await client.get("/scim/v2/ResourceTypes", headers=scim)).json()
    assert [t["id"] for t in types["Resources"]] == ["User"]
    schemas = (await client.get("/scim/v2/Schemas", headers=scim)).json()
    ids = [s["id"] for s in schemas["Resources"]]
    assert USER in ids and ENTERPRISE in ids
    user_schema = (await client.get(f"/scim/v2/Schemas/{USER}", headers=scim)).json()
    assert {a["name"] for a in user_schema["attributes"]} == {
        "userName",
        "name",
        "displayName",
        "title",
        "active",
        "emails",
    }

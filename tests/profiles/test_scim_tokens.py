"""Provisioning tokens: admin-issued, shown once, stored hashed, revocable."""

from __future__ import annotations

import json

import httpx

from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.profiles.test_people_support import PROBLEM, admin, dev_auto_provision, profiles_store

__all__ = ["dev_auto_provision"]

SCIM = "application/scim+json"
TOKENS = "/api/v1/admin/scim-tokens"


async def issue(client: httpx.AsyncClient, login: Login, name: str = "Entra ID") -> dict[str, str]:
    response = await client.post(TOKENS, json={"name": name}, headers=await admin(login))
    assert response.status_code == 201, response.text
    issued: dict[str, str] = response.json()
    return issued


async def test_an_issued_token_opens_scim_until_revoked(
    client: httpx.AsyncClient, login: Login
) -> None:
    issued = await issue(client, login)
    auth = {"Authorization": f"Bearer {issued['token']}"}
    assert (await client.get("/scim/v2/Users", headers=auth)).status_code == 200
    revoked = await client.delete(f"{TOKENS}/{issued['id']}", headers=await admin(login))
    assert revoked.status_code == 204
    denied = await client.get("/scim/v2/Users", headers=auth)
    assert denied.status_code == 401
    assert denied.headers["content-type"] == SCIM
    assert denied.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert denied.json()["status"] == "401"
    listed = (await client.get(TOKENS, headers=await admin(login))).json()["items"]
    assert [(c["id"], c["revoked"]) for c in listed] == [(issued["id"], True)]
    assert "token" not in listed[0] and "token_hash" not in listed[0]


async def test_the_raw_token_is_nowhere_in_the_store(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    issued = await issue(client, login)
    auth = {"Authorization": f"Bearer {issued['token']}"}
    created = await client.post(
        "/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana@x.org"},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    async with profiles_store(settings) as store:
        dumped = ""
        for name in ("scim_credentials", "people", "idempotency_keys"):
            dumped += json.dumps(await store.collection(name).find({}), default=str)
        stored = await store.collection("scim_credentials").find_one({"_id": issued["id"]})
    assert issued["token"] not in dumped
    assert stored is not None and len(stored["token_hash"]) == 64


async def test_only_admins_manage_tokens(client: httpx.AsyncClient, login: Login) -> None:
    user = await login("bo")
    assert (await client.post(TOKENS, json={"name": "x"}, headers=user)).status_code == 403
    assert (await client.get(TOKENS, headers=user)).status_code == 403
    issued = await issue(client, login)
    forbidden = await client.delete(f"{TOKENS}/{issued['id']}", headers=user)
    assert forbidden.status_code == 403 and forbidden.headers["content-type"] == PROBLEM
    unknown = await client.delete(f"{TOKENS}/nope", headers=await admin(login))
    assert unknown.status_code == 404
    bad = await client.post(TOKENS, json={"name": ""}, headers=await admin(login))
    assert bad.status_code == 422
    assert len((await client.get(TOKENS, headers=await admin(login))).json()["items"]) == 1


async def test_scim_refuses_user_tokens_and_junk(client: httpx.AsyncClient, login: Login) -> None:
    await issue(client, login)
    for headers in (
        await admin(login),  # a user's JWT, even an admin's
        {"Authorization": "Bearer canteen_scim_guessed"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {},
    ):
        response = await client.get("/scim/v2/Users", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == SCIM
        assert response.headers["www-authenticate"].startswith("Bearer")

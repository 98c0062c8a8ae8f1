"""Journey 4, a joiner and a leaver.

1. An admin issues a SCIM token for the identity provider.
2. The IdP provisions Nia (SCIM POST /Users, department Logistics).
3. Colleagues find her in people search and the directory, and can @mention her: she is
   notified, in the app and by mail at the work address the IdP gave (she set none). She
   answers Sam's #palletizing question and Sam accepts it, so she shows in
   the #palletizing expert lists; Rui, who follows #palletizing, is suggested to follow her.
4. The IdP deactivates Nia (SCIM PATCH active=false).
5. She vanishes from people search, the directory, the expert lists and suggestions, and
   a new @mention no longer reaches her.
6. (test_leavers_tokens_stop_working) Her tokens stop working on every service.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.journeys.conftest import SERVICES, Api, Stack
from tests.support import eventually

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TOPIC = "palletizing"


async def scim_token(api: Api, name: str) -> dict[str, str]:
    issued = await api.ok(
        "POST", "/api/v1/admin/scim-tokens", as_="root", roles=("admin",), json={"name": name}
    )
    return {"Authorization": f"Bearer {issued['token']}", "Content-Type": "application/scim+json"}


async def provision(api: Api, idp: dict[str, str], sub: str, given: str, family: str) -> Any:
    user = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": f"{given}.{family}@example.org".lower(),
        "externalId": sub,  # the IdP sends the tokens' subject as externalId
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "active": True,
        "emails": [{"value": f"{given}@example.org".lower(), "primary": True}],
        ENTERPRISE: {"department": "Logistics"},
    }
    response = await api.post("/scim/v2/Users", as_=None, headers=idp, json=user)
    assert response.status_code == 201, response.text
    return response.json()


async def deactivate(api: Api, idp: dict[str, str], scim_id: str) -> None:
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    response = await api.patch(f"/scim/v2/Users/{scim_id}", as_=None, headers=idp, json=patch)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False


async def test_joiner_and_leaver(api: Api, stack: Stack) -> None:
    await api.join("root", "rui", "sam")
    idp = await scim_token(api, "Entra ID")

    # 2. Nia joins.
    nia = await provision(api, idp, "nia", "Nia", "Okafor")
    assert nia["id"] == "nia" and nia["active"] is True
    profile = await api.ok("GET", "/api/v1/people/nia", as_="rui")
    handle = profile["handle"]
    assert profile["department"] == "Logistics" and profile["active"] is True

    # 3. Found, mentionable, an expert, suggested.
    async def people_search() -> list[str]:
        body = await api.ok(
            "GET", "/api/v1/search", as_="rui", params={"q": "Nia Okafor", "type": "person"}
        )
        return [h["id"] for h in body["items"]]

    await eventually(people_search, until=lambda ids: "nia" in ids, within=60)
    directory = await api.ok("GET", "/api/v1/people", as_="rui", params={"department": "Logistics"})
    assert "nia" in {p["id"] for p in directory["items"]}

    async def mention() -> dict[str, Any]:
        post: dict[str, Any] = await api.ok(
            "POST", "/api/v1/posts", as_="rui", json={"body_md": f"Welcome aboard @{handle}!"}
        )
        return post

    welcome = await eventually(mention, until=lambda p: "nia" in p["mentions"], within=60)

    async def nias_notifications() -> list[str]:
        body = await api.ok("GET", "/api/v1/notifications", as_="nia")
        return [g["target"]["id"] for g in body["items"] if g["type"] == "mention"]

    await eventually(nias_notifications, until=lambda ids: welcome["id"] in ids, within=60)

    async def nias_mail() -> list[Any]:
        return [m for m in list(stack.mail.messages) if m["To"] == "nia@example.org"]

    [mail] = await eventually(nias_mail, within=60)
    assert "mentioned you" in str(mail.get_body(preferencelist=("plain",)).get_content())
    prefs = await api.ok("GET", "/api/v1/notification-preferences", as_="nia")
    assert prefs["email_address"] is None and prefs["directory_email"] == "nia@example.org"

    question = await api.ok(
        "POST",
        "/api/v1/posts",
        as_="sam",
        json={
            "kind": "question",
            "title": "Max pallet height in aisle 7?",
            "body_md": "The racking label is gone.",
            "tags": [TOPIC],
        },
    )
    answer = await api.ok(
        "POST",
        f"/api/v1/questions/{question['id']}/answers",
        as_="nia",
        json={"text": "1.8 m, the load plan on the wall by aisle 1 lists every aisle."},
    )
    await api.ok(
        "PUT",
        f"/api/v1/questions/{question['id']}/accepted-answer",
        as_="sam",
        json={"answer_id": answer["id"]},
    )
    await api.ok("PUT", f"/api/v1/follows/topics/{TOPIC}", as_="rui")

    async def experts() -> list[str]:
        body = await api.ok("GET", f"/api/v1/experts?topic={TOPIC}", as_="rui")
        return [e["person_id"] for e in body]

    async def searched_experts() -> list[str]:
        body = await api.ok("GET", f"/api/v1/search/experts?topic={TOPIC}", as_="rui")
        return [e["id"] for e in body["items"]]

    async def suggested() -> list[str]:
        body = await api.ok("GET", "/api/v1/people/me/suggestions", as_="rui")
        return [s["person_id"] for s in body]

    for probe in (experts, searched_experts, suggested):
        await eventually(probe, until=lambda ids: "nia" in ids, within=60)

    # 4-5. Nia leaves: gone from every listing, no longer mentionable.
    await deactivate(api, idp, nia["id"])
    for probe in (people_search, experts, searched_experts, suggested):
        await eventually(probe, until=lambda ids: "nia" not in ids, within=60)
    directory = await api.ok("GET", "/api/v1/people", as_="rui", params={"department": "Logistics"})
    assert "nia" not in {p["id"] for p in directory["items"]}
    kept = await api.ok("GET", "/api/v1/people/nia", as_="rui")
    assert kept["active"] is False  # still shown on what she wrote

    async def mention_after() -> dict[str, Any]:
        post: dict[str, Any] = await api.ok(
            "POST", "/api/v1/posts", as_="rui", json={"body_md": f"Farewell @{handle}"}
        )
        return post

    await eventually(mention_after, until=lambda p: "nia" not in p["mentions"], within=60)


PROBES = {
    "activity": "/api/v1/feeds/home",
    "profiles": "/api/v1/people/me",
    "search": "/api/v1/search?q=x",
    "notify": "/api/v1/notifications",
}


async def test_leavers_tokens_stop_working(api: Api) -> None:
    """Uma is provisioned, uses each service, is deactivated by the IdP: her tokens fail."""
    await api.join("root")
    idp = await scim_token(api, "Okta")
    uma = await provision(api, idp, "uma", "Uma", "Lindqvist")
    assert set(PROBES) == set(SERVICES)
    for path in PROBES.values():
        response = await api.get(path, as_="uma")
        assert response.status_code == 200, (path, response.text)

    await deactivate(api, idp, uma["id"])

    async def statuses() -> dict[str, int]:
        return {s: (await api.get(p, as_="uma")).status_code for s, p in PROBES.items()}

    # Each service learns of the leaver from profiles' events: give them time to.
    await eventually(statuses, until=lambda s: set(s.values()) == {401}, within=20)

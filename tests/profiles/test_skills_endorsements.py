"""Declared skills with levels, endorsements (once each, never yourself, live people only),
and their effect on expertise."""

from __future__ import annotations

import httpx

from services.profiles.expertise.domain import WEIGHTS, breadth_score
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.profiles.test_expertise_support import PROBLEM, add_people, approx, profiles_store


async def _people(settings: CanteenSettings) -> None:
    async with profiles_store(settings) as store:
        await add_people(
            store, {"_id": "ana"}, {"_id": "bob"}, {"_id": "cy"}, {"_id": "gone", "active": False}
        )


async def test_declare_skills_with_levels(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    await _people(settings)
    admin = await login("root", roles=["admin"])
    ana = await login("ana")
    await client.post(
        "/api/v1/skills", json={"name": "Kubernetes", "aliases": ["k8s"]}, headers=admin
    )
    declared = await client.put("/api/v1/skills/mine/K8s", json={"level": 4}, headers=ana)
    assert declared.status_code == 200, declared.text
    assert declared.json()["skill_id"] == "kubernetes" and declared.json()["level"] == 4
    free = await client.put("/api/v1/skills/mine/Ré Act", json={"level": 2}, headers=ana)
    assert free.status_code == 200 and free.json()["skill_id"] == "re-act"
    again = await client.put("/api/v1/skills/mine/kubernetes", json={"level": 5}, headers=ana)
    assert again.json()["level"] == 5
    mine = await client.get("/api/v1/skills/people/me", headers=ana)
    assert mine.json()["skills"] == [
        {
            "skill_id": "kubernetes",
            "name": "Kubernetes",
            "level": 5,
            "endorsements": 0,
            "endorsed_by_me": False,
        },
        {
            "skill_id": "re-act",
            "name": "re-act",
            "level": 2,
            "endorsements": 0,
            "endorsed_by_me": False,
        },
    ]
    assert (await client.delete("/api/v1/skills/mine/re-act", headers=ana)).status_code == 204
    assert (await client.delete("/api/v1/skills/mine/re-act", headers=ana)).status_code == 404
    bob = await login("bob")
    seen = await client.get("/api/v1/skills/people/ana", headers=bob)
    assert [s["skill_id"] for s in seen.json()["skills"]] == ["kubernetes"]
    for level in (0, 6, "x", None):
        bad = await client.put("/api/v1/skills/mine/go", json={"level": level}, headers=ana)
        assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    empty = await client.put("/api/v1/skills/mine/%23%23", json={"level": 3}, headers=ana)
    assert empty.status_code == 422 and "empty once normalized" in empty.json()["detail"]
    async with profiles_store(settings) as store:
        docs = await store.collection("person_skills").find({})
        assert sorted((d["skill_id"], d["removed"]) for d in docs) == [
            ("kubernetes", False),
            ("re-act", True),
        ]
        outbox = [e["type"] for d in docs for e in d.get("_outbox", [])]
        assert set(outbox) <= {
            "canteen.profiles.skill.declared.v1",
            "canteen.profiles.skill.removed.v1",
        }


async def test_endorsements_count_once_and_move_expertise(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    await _people(settings)
    ana, bob, cy = await login("ana"), await login("bob"), await login("cy")
    await client.put("/api/v1/skills/mine/python", json={"level": 3}, headers=ana)
    for _ in range(2):
        ok = await client.put("/api/v1/endorsements/ana/Python", headers=bob)
        assert ok.status_code == 200, ok.text
        assert ok.json()["id"] == "bob:ana:python"
    await client.put("/api/v1/endorsements/ana/python", headers=cy)
    await client.put("/api/v1/endorsements/ana/docker", headers=cy)
    skills = (await client.get("/api/v1/skills/people/ana", headers=bob)).json()["skills"]
    assert [
        (s["skill_id"], s["level"], s["endorsements"], s["endorsed_by_me"]) for s in skills
    ] == [
        ("python", 3, 2, True),
        ("docker", None, 1, False),
    ]
    experts = (await client.get("/api/v1/experts?topic=python", headers=bob)).json()
    assert [e["person_id"] for e in experts] == ["ana"]
    assert approx(experts[0]["score"], breadth_score([WEIGHTS.endorsement] * 2), rel=1e-6)
    assert {e["kind"] for e in experts[0]["evidence"]} == {"endorsement"}
    # Withdrawn: it stops counting, exactly.
    assert (await client.delete("/api/v1/endorsements/ana/python", headers=bob)).status_code == 204
    assert (await client.delete("/api/v1/endorsements/ana/python", headers=bob)).status_code == 404
    experts = (await client.get("/api/v1/experts?topic=python", headers=bob)).json()
    assert approx(experts[0]["score"], breadth_score([WEIGHTS.endorsement]), rel=1e-6)
    again = await client.put("/api/v1/endorsements/ana/python", headers=bob)
    assert again.status_code == 200
    experts = (await client.get("/api/v1/experts?topic=python", headers=bob)).json()
    assert approx(experts[0]["score"], breadth_score([WEIGHTS.endorsement] * 2), rel=1e-6)


async def test_endorsing_yourself_or_someone_gone_is_refused(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    await _people(settings)
    ana = await login("ana")
    myself = await client.put("/api/v1/endorsements/ana/go", headers=ana)
    assert myself.status_code == 422 and myself.headers["content-type"] == PROBLEM
    assert "yourself" in myself.json()["detail"]
    for person in ("gone", "nobody"):
        response = await client.put(f"/api/v1/endorsements/{person}/go", headers=ana)
        assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
        seen = await client.get(f"/api/v1/skills/people/{person}", headers=ana)
        assert seen.status_code == 404
    bad = await client.put("/api/v1/endorsements/bob/%3F%3F", headers=ana)
    assert bad.status_code == 422
    async with profiles_store(settings) as store:
        assert await store.collection("endorsements").count({}) == 0

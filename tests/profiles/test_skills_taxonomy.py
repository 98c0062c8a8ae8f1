"""The skills taxonomy: admins write, everyone reads; names and aliases normalised and unique;
the topic rule pinned to the activity service's."""

from __future__ import annotations

import httpx
import pytest

from services.activity.topics import normalize_topic as activity_rule
from services.profiles.expertise.topics import InvalidSkill, normalize_topic, slug
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.profiles.test_expertise_support import PROBLEM, profiles_store

EXAMPLES = {
    "#Kubernetes": "kubernetes",
    "kübernetes": "kubernetes",
    "  Machine Learning ": "machine-learning",
    "snake_case_topic": "snake-case-topic",
    "#Café": "cafe",
    "Node.js": "node.js",
    "C++": "c++",
    "--x--": "x",
}


@pytest.mark.parametrize(("raw", "expected"), sorted(EXAMPLES.items()))
def test_the_topic_rule_is_the_activity_rule(raw: str, expected: str) -> None:
    assert normalize_topic(raw) == expected == activity_rule(raw)


@pytest.mark.parametrize("raw", ["", "   ", "#", "___", "a/b", "what?", "x" * 65, "a:b"])
def test_unusable_names_are_refused_with_the_reason(raw: str) -> None:
    with pytest.raises(InvalidSkill, match="skill"):
        slug(raw)


async def test_admins_build_the_taxonomy_and_aliases_resolve(
    client: httpx.AsyncClient, login: Login
) -> None:
    admin = await login("root", roles=["admin"])
    anyone = await login("ana")
    created = await client.post(
        "/api/v1/skills",
        json={"name": "Kubernetes", "aliases": ["K8s", "kube", "kubernetes"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": "kubernetes",
        "name": "Kubernetes",
        "aliases": ["k8s", "kube"],
        "parent_id": None,
    }
    child = await client.post(
        "/api/v1/skills", json={"name": "Helm", "parent_id": "kubernetes"}, headers=admin
    )
    assert child.status_code == 201 and child.json()["parent_id"] == "kubernetes"
    for name in ("k8s", "K8S", "kubernetes", "%23Kübernetes"):
        read = await client.get(f"/api/v1/skills/{name}", headers=anyone)
        assert read.status_code == 200 and read.json()["id"] == "kubernetes", name
    listing = await client.get("/api/v1/skills", headers=anyone)
    assert [s["id"] for s in listing.json()["items"]] == ["helm", "kubernetes"]
    patched = await client.patch(
        "/api/v1/skills/kubernetes", json={"aliases": ["k8s"], "name": "K8s!"}, headers=admin
    )
    assert patched.status_code == 200
    assert patched.json()["aliases"] == ["k8s"] and patched.json()["name"] == "K8s!"
    assert (await client.get("/api/v1/skills/kube", headers=anyone)).status_code == 404
    deleted = await client.delete("/api/v1/skills/kubernetes", headers=admin)
    assert deleted.status_code == 204
    assert (await client.get("/api/v1/skills/helm", headers=anyone)).json()["parent_id"] is None


async def test_names_and_aliases_are_unique_across_the_taxonomy(
    client: httpx.AsyncClient, login: Login
) -> None:
    admin = await login("root", roles=["admin"])
    await client.post("/api/v1/skills", json={"name": "Go", "aliases": ["golang"]}, headers=admin)
    await client.post("/api/v1/skills", json={"name": "Rust"}, headers=admin)
    for body in (
        {"name": "GO"},
        {"name": "Golang"},
        {"name": "Gopher", "aliases": ["golang"]},
        {"name": "Rusty", "aliases": ["rust"]},
    ):
        response = await client.post("/api/v1/skills", json=body, headers=admin)
        assert response.status_code == 409, body
        assert response.headers["content-type"] == PROBLEM
    clash = await client.patch("/api/v1/skills/rust", json={"aliases": ["golang"]}, headers=admin)
    assert clash.status_code == 409
    listing = await client.get("/api/v1/skills", headers=admin)
    assert [s["id"] for s in listing.json()["items"]] == ["go", "rust"]


async def test_only_admins_write_and_bad_input_writes_nothing(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    admin = await login("root", roles=["admin"])
    ana = await login("ana")
    assert (await client.post("/api/v1/skills", json={"name": "x"}, headers=ana)).status_code == 403
    assert (await client.post("/api/v1/skills", json={"name": "x"})).status_code == 401
    for body in (
        {"name": ""},
        {"name": "###"},
        {"name": "a/b"},
        {"name": "ok", "extra": 1},
        {"name": "ok", "aliases": ["x" * 101]},
        {"name": "ok", "parent_id": "nope"},
        {"name": "ok", "parent_id": "ok"},
    ):
        response = await client.post("/api/v1/skills", json=body, headers=admin)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
    await client.post("/api/v1/skills", json={"name": "a"}, headers=admin)
    await client.post("/api/v1/skills", json={"name": "b", "parent_id": "a"}, headers=admin)
    cycle = await client.patch("/api/v1/skills/a", json={"parent_id": "b"}, headers=admin)
    assert cycle.status_code == 422 and "cycle" in cycle.json()["detail"]
    assert (await client.patch("/api/v1/skills/zz", json={}, headers=admin)).status_code == 404
    async with profiles_store(settings) as store:
        assert sorted(d["_id"] for d in await store.collection("skills").find({})) == ["a", "b"]

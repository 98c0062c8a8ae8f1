"""The directory: filters, pagination, reports, manager chain, and the person events."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.profiles.people import repository as people_repository
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.profiles.test_people_support import (
    PROBLEM,
    Observer,
    add_person,
    admin,
    dev_auto_provision,
)

__all__ = ["dev_auto_provision"]


async def ids(client: httpx.AsyncClient, auth: dict[str, str], url: str) -> list[str]:
    response = await client.get(url, headers=auth)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


async def declare(
    client: httpx.AsyncClient, login: Login, person_id: str, skill: str, level: int = 3
) -> None:
    response = await client.put(
        f"/api/v1/skills/mine/{skill}", json={"level": level}, headers=await login(person_id)
    )
    assert response.status_code == 200, response.text


async def test_filters_by_department_location_manager_and_skill(
    client: httpx.AsyncClient, login: Login
) -> None:
    await add_person(client, login, "boss")
    await add_person(client, login, "ana", department="R&D", location="Lisbon", manager_id="boss")
    await add_person(client, login, "bo", department="R&D", location="Paris", manager_id="boss")
    await add_person(client, login, "carla", department="Sales", location="Lisbon")
    for person_id, skill in (("ana", "kubernetes"), ("carla", "kubernetes"), ("bo", "go")):
        await declare(client, login, person_id, skill)
    auth = await login("dan")
    assert await ids(client, auth, "/api/v1/people?department=R%26D") == ["ana", "bo"]
    assert await ids(client, auth, "/api/v1/people?location=Lisbon") == ["ana", "carla"]
    assert await ids(client, auth, "/api/v1/people?manager=boss") == ["ana", "bo"]
    assert await ids(client, auth, "/api/v1/people?skill=kubernetes") == ["ana", "carla"]
    assert await ids(client, auth, "/api/v1/people?skill=Kubernetes&location=Paris") == []
    assert await ids(client, auth, "/api/v1/people?skill=cobol") == []
    assert await ids(
        client, auth, "/api/v1/people?skill=kubernetes&department=R%26D&location=Lisbon"
    ) == ["ana"]
    await client.post("/api/v1/people/ana/deactivate", headers=await admin(login))
    assert await ids(client, auth, "/api/v1/people?skill=kubernetes") == ["carla"]


async def test_a_removed_skill_no_longer_matches(client: httpx.AsyncClient, login: Login) -> None:
    for person_id in ("ana", "bo"):
        await add_person(client, login, person_id)
        await declare(client, login, person_id, "kubernetes")
    removed = await client.delete("/api/v1/skills/mine/kubernetes", headers=await login("ana"))
    assert removed.status_code == 204
    auth = await login("dan")
    assert await ids(client, auth, "/api/v1/people?skill=kubernetes") == ["bo"]
    await declare(client, login, "ana", "kubernetes", level=5)
    assert await ids(client, auth, "/api/v1/people?skill=kubernetes") == ["ana", "bo"]


async def test_the_skill_filter_resolves_names_like_a_declaration(
    client: httpx.AsyncClient, login: Login
) -> None:
    for person_id in ("ana", "bo", "carla", "dora"):
        await add_person(client, login, person_id)
    # Declared as a free skill before the taxonomy made "golang" an alias of Go.
    await declare(client, login, "dora", "golang")
    auth = await admin(login)
    for name, aliases in (
        ("Kubernetes", ["k8s"]),
        ("Machine Learning", ["ML"]),
        ("Go", ["golang"]),
    ):
        created = await client.post(
            "/api/v1/skills", json={"name": name, "aliases": aliases}, headers=auth
        )
        assert created.status_code == 201, created.text
    await declare(client, login, "ana", "K8s")
    await declare(client, login, "bo", "kubernetes")
    await declare(client, login, "carla", "ml")
    reader = await login("eve")
    for name in ("k8s", "K8S", "Kubernetes", "KÜBERNETES", "%23kubernetes"):
        assert await ids(client, reader, f"/api/v1/people?skill={name}") == ["ana", "bo"], name
    for name in ("Machine Learning", "machine_learning", "ML", "Mächine-Learning"):
        assert await ids(client, reader, f"/api/v1/people?skill={name}") == ["carla"], name
    assert await ids(client, reader, "/api/v1/people?skill=Go") == ["dora"]
    bad = await client.get("/api/v1/people?skill=a%2Fb", headers=reader)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert "may not contain" in bad.json()["detail"]


async def test_the_skill_filter_pages_over_every_skilled_person(
    client: httpx.AsyncClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small `$in` chunks: the page merges them, whatever order ids and handles come in.
    monkeypatch.setattr(people_repository, "SKILLED_CHUNK", 4)
    skilled: list[str] = []
    for n in range(16):
        # Handles run against the ids, so each chunk of ids spreads over every page.
        handle = f"h{15 - n:02d}"
        await add_person(client, login, f"p{n:02d}", handle=handle)
        if n % 4 != 3:
            await declare(client, login, f"p{n:02d}", "Python")
            skilled.append(handle)
    await declare(client, login, "p00", "python")
    gone = await client.delete("/api/v1/skills/mine/python", headers=await login("p04"))
    assert gone.status_code == 204
    skilled.remove("h11")
    auth = await login("dan")
    seen: list[str] = []
    url = "/api/v1/people?skill=python&limit=3"
    while True:
        response = await client.get(url, headers=auth)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 3
        seen += [p["handle"] for p in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/people?skill=python&limit=3&cursor={page['next_cursor']}"
    assert seen == sorted(skilled) and len(seen) == 11


async def test_the_directory_pages_with_cursors(client: httpx.AsyncClient, login: Login) -> None:
    names = [f"p{n:02d}" for n in range(7)]
    for name in reversed(names):
        await add_person(client, login, name)
    auth = await login("dan")
    seen: list[str] = []
    url = "/api/v1/people?limit=3"
    while True:
        page = (await client.get(url, headers=auth)).json()
        seen += [p["handle"] for p in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/people?limit=3&cursor={page['next_cursor']}"
    assert seen == names
    bad = await client.get("/api/v1/people?cursor=forged", headers=auth)
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
    too_many = await client.get("/api/v1/people?limit=1000", headers=auth)
    assert too_many.status_code == 422


async def test_reports_and_the_manager_chain(client: httpx.AsyncClient, login: Login) -> None:
    await add_person(client, login, "ceo")
    await add_person(client, login, "cto", manager_id="ceo")
    await add_person(client, login, "lead", manager_id="cto")
    await add_person(client, login, "ana", manager_id="lead")
    await add_person(client, login, "bo", manager_id="lead")
    await add_person(client, login, "gone", manager_id="lead")
    await client.post("/api/v1/people/gone/deactivate", headers=await admin(login))
    auth = await login("dan")
    assert await ids(client, auth, "/api/v1/people/lead/reports") == ["ana", "bo"]
    assert await ids(client, auth, "/api/v1/people/ana/reports") == []
    chain = await client.get("/api/v1/people/ana/manager-chain", headers=auth)
    assert [p["id"] for p in chain.json()] == ["lead", "cto", "ceo"]
    top = await client.get("/api/v1/people/ceo/manager-chain", headers=auth)
    assert top.json() == []


async def test_the_manager_chain_stops_at_a_cycle(client: httpx.AsyncClient, login: Login) -> None:
    await add_person(client, login, "aa")
    await add_person(client, login, "bb", manager_id="aa")
    await add_person(client, login, "cc", manager_id="bb")
    # The identity provider is authoritative: a cycle it sends is stored, and walked safely.
    cycle = await client.patch(
        "/api/v1/people/aa", json={"manager_id": "cc"}, headers=await admin(login)
    )
    assert cycle.status_code == 200, cycle.text
    chain = await client.get("/api/v1/people/cc/manager-chain", headers=await login("dan"))
    assert [p["id"] for p in chain.json()] == ["bb", "aa"]


async def test_the_manager_chain_is_bounded(client: httpx.AsyncClient, login: Login) -> None:
    await add_person(client, login, "m00")
    for n in range(1, 25):
        await add_person(client, login, f"m{n:02d}", manager_id=f"m{n - 1:02d}")
    chain = await client.get("/api/v1/people/m24/manager-chain", headers=await login("dan"))
    assert len(chain.json()) == 20
    assert chain.json()[0]["id"] == "m23"


async def test_person_events_are_published_in_order(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    # The topic outlives a test on Kafka: a fresh id keeps other tests' events out.
    ana = f"ana-{uuid.uuid4().hex[:12]}"
    async with Observer(settings) as observer:
        await add_person(client, login, ana, department="R&D")
        auth = await admin(login)
        edited = await client.patch(f"/api/v1/people/{ana}", json={"title": "Lead"}, headers=auth)
        assert edited.status_code == 200
        unchanged = await client.patch(
            f"/api/v1/people/{ana}", json={"title": "Lead"}, headers=auth
        )
        assert unchanged.status_code == 200
        await client.post(f"/api/v1/people/{ana}/deactivate", headers=auth)
        await client.post(f"/api/v1/people/{ana}/reactivate", headers=auth)
        types = await observer.types_of(ana, 5)
        assert types == [
            "canteen.profiles.person.created.v1",
            "canteen.profiles.person.updated.v1",
            "canteen.profiles.person.deactivated.v1",
            "canteen.profiles.person.reactivated.v1",
            "canteen.profiles.person.updated.v1",
        ]
        events = observer.of(ana)
        assert events[0].data["department"] == "R&D" and events[0].data["handle"] == ana
        assert events[1].data["title"] == "Lead" and events[1].data["active"] is True
        assert events[3].data["active"] is True and events[4].data["title"] == "Lead"

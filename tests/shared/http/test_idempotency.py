"""Idempotency-Key on POST routes (shared.http.idempotency), on the SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Response
from pydantic import BaseModel, ConfigDict

from shared.http import AuthConfig, HttpConfig, PrincipalDep, Problem, create_app
from shared.http.auth.dev import DevTokenSigner
from shared.http.idempotency import idempotent_route_class, prepare_idempotency
from shared.store.sqlite import SqliteDocumentStore

ISSUER, AUDIENCE = "https://id.canteen.test", "canteen-api"
SECRET = "idempotency-dev-secret-0123456789abcdef"
PROBLEM = "application/problem+json"


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class Demo:
    def __init__(self) -> None:
        self.created: list[tuple[str, str]] = []
        self.fail_next = False
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()


def build(store: SqliteDocumentStore, demo: Demo) -> FastAPI:
    records = store.collection("idempotency_keys")
    router = APIRouter(prefix="/api/v1", route_class=idempotent_route_class(records))

    @router.post("/things", status_code=201)
    async def create(body: ThingIn, me: PrincipalDep, response: Response) -> dict[str, Any]:
        if demo.fail_next:
            demo.fail_next = False
            raise Problem(503, detail="try again")
        demo.created.append((me.user_id, body.name))
        response.headers["Location"] = f"/api/v1/things/{len(demo.created)}"
        return {"n": len(demo.created), "name": body.name, "by": me.user_id}

    @router.post("/slow", status_code=201)
    async def slow(me: PrincipalDep) -> dict[str, str]:
        demo.entered.set()
        await demo.gate.wait()
        return {"done": me.user_id}

    @router.get("/things")
    async def count(me: PrincipalDep) -> dict[str, int]:
        return {"count": len(demo.created)}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare_idempotency(records)
        yield
        await store.close()

    config = HttpConfig(
        service="idem",
        auth=AuthConfig(issuer=ISSUER, audience=AUDIENCE, dev_signing_secret=SECRET),
        cursor_secret="c" * 40,
        dev_mode=True,
    )
    return create_app(config, title="idem", version="0", routers=[router], lifespan=lifespan)


@pytest.fixture
def demo() -> Demo:
    return Demo()


@pytest.fixture
def store(tmp_path: Path) -> SqliteDocumentStore:
    return SqliteDocumentStore(tmp_path / "idem.sqlite3")


@pytest.fixture
async def http(store: SqliteDocumentStore, demo: Demo) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(build(store, demo)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def auth(user: str, key: str | None = None, secret: str = SECRET) -> dict[str, str]:
    token = DevTokenSigner(secret=secret, issuer=ISSUER, audience=AUDIENCE).sign(
        user, ttl_seconds=600
    )
    headers = {"Authorization": f"Bearer {token}"}
    return headers | ({"Idempotency-Key": key} if key is not None else {})


async def test_same_key_twice_has_one_effect_and_the_same_response(
    http: httpx.AsyncClient, demo: Demo
) -> None:
    first = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-1"))
    again = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-1"))
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"] == "/api/v1/things/1"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert demo.created == [("ana", "a")]


async def test_the_same_key_with_another_body_is_422(http: httpx.AsyncClient, demo: Demo) -> None:
    await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-2"))
    other = await http.post("/api/v1/things", json={"name": "b"}, headers=auth("ana", "k-2"))
    assert other.status_code == 422
    assert other.headers["content-type"].startswith(PROBLEM)
    assert other.json()["detail"] == "Idempotency-Key reused with a different request"
    assert demo.created == [("ana", "a")]


async def test_keys_are_per_user(http: httpx.AsyncClient, demo: Demo) -> None:
    ana = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "shared"))
    bo = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("bo", "shared"))
    assert ana.json()["by"] == "ana" and bo.json()["by"] == "bo"
    assert demo.created == [("ana", "a"), ("bo", "a")]


async def test_without_a_key_every_request_counts(http: httpx.AsyncClient, demo: Demo) -> None:
    for _ in range(2):
        response = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana"))
        assert response.status_code == 201
    assert len(demo.created) == 2


async def test_a_failed_request_is_not_stored(http: httpx.AsyncClient, demo: Demo) -> None:
    demo.fail_next = True
    failed = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-3"))
    assert failed.status_code == 503
    invalid = await http.post("/api/v1/things", json={"nom": "a"}, headers=auth("ana", "k-4"))
    assert invalid.status_code == 422
    retried = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-3"))
    assert retried.status_code == 201
    fixed = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-4"))
    assert fixed.status_code == 201
    assert len(demo.created) == 2


@pytest.mark.parametrize("key", [b"", b"has space", b"x" * 201, "clé".encode(), b"tab\tkey"])
async def test_a_malformed_key_is_400(http: httpx.AsyncClient, demo: Demo, key: bytes) -> None:
    headers: dict[str, str | bytes] = {**auth("ana"), "Idempotency-Key": key}
    response = await http.post("/api/v1/things", json={"name": "a"}, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROBLEM)
    assert demo.created == []


async def test_a_forged_token_never_reads_a_cached_response(
    http: httpx.AsyncClient, demo: Demo
) -> None:
    await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-5"))
    forged = auth("ana", "k-5", secret="attacker-secret-0123456789abcdefghijkl")
    response = await http.post("/api/v1/things", json={"name": "a"}, headers=forged)
    assert response.status_code == 401
    assert "idempotent-replayed" not in response.headers
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_duplicate_while_the_first_runs_is_409(http: httpx.AsyncClient, demo: Demo) -> None:
    first = asyncio.create_task(http.post("/api/v1/slow", headers=auth("ana", "k-6")))
    await asyncio.wait_for(demo.entered.wait(), timeout=10)
    duplicate = await http.post("/api/v1/slow", headers=auth("ana", "k-6"))
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith(PROBLEM)
    demo.gate.set()
    assert (await first).status_code == 201
    replay = await http.post("/api/v1/slow", headers=auth("ana", "k-6"))
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"


async def test_records_expire_after_a_day_and_stuck_ones_are_taken_over(
    http: httpx.AsyncClient, demo: Demo, store: SqliteDocumentStore
) -> None:
    await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-7"))
    records = store.collection("idempotency_keys")
    day_ago = datetime.now(UTC) - timedelta(hours=24, seconds=1)
    await records.update_many({}, {"$set": {"created_at": day_ago}})
    await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-7"))
    assert len(demo.created) == 2
    # A request whose process died leaves an in-flight record; after a minute a retry runs.
    minute_ago = datetime.now(UTC) - timedelta(seconds=61)
    await records.update_many({}, {"$set": {"state": "in_flight", "started_at": minute_ago}})
    taken = await http.post("/api/v1/things", json={"name": "a"}, headers=auth("ana", "k-7"))
    assert taken.status_code == 201 and "idempotent-replayed" not in taken.headers
    assert len(demo.created) == 3


async def test_other_methods_ignore_the_header(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/things", headers=auth("ana", "not checked here"))
    assert response.status_code == 200

"""Operations: backend down (503, /readyz) and recovery, synonyms, reindex, lag metric."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from canteen.allinone import create_single
from services.search.reindex import ReindexProgress, reindex
from shared.events.schemas.activity import posts as p
from shared.settings import CanteenSettings
from tests.conftest import Login, login_with, serve
from tests.search.conftest import Publish
from tests.support import eventually

NOW = datetime(2026, 11, 4, tzinfo=UTC)
PROBLEM = "application/problem+json"


def note(pid: str, text: str) -> p.PostCreated:
    return p.PostCreated(
        id=pid, kind="note", author_id="a", audience="org", text=text, created_at=NOW
    )


async def total(client: httpx.AsyncClient, auth: dict[str, str], q: str) -> int:
    r = await client.get("/api/v1/search", params={"q": q}, headers=auth)
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


async def test_backend_down_is_503_and_indexing_converges_when_back(
    settings: CanteenSettings, publish: Publish
) -> None:
    if settings.backend != "embedded":
        pytest.skip("the external half points at a dead port: test_dead_opensearch_is_503")
    # The index file cannot be opened (a directory stands in its place): the backend is down.
    blocker = settings.data_dir / "search-index.sqlite3"
    blocker.mkdir(parents=True)
    async for client in serve(create_single(settings, "search")):
        auth = await login_with(client)("viewer")
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["search.index"]["status"] == "failed"
        down = await client.get("/api/v1/search", params={"q": "anything"}, headers=auth)
        assert down.status_code == 503 and down.headers["content-type"].startswith(PROBLEM)
        assert (
            await client.get("/api/v1/suggest", params={"q": "an"}, headers=auth)
        ).status_code == 503
        await publish(note("n1", "Platypus sightings while the index was down"))
        shutil.rmtree(blocker)

        async def found(client: httpx.AsyncClient = client, auth: dict[str, str] = auth) -> int:
            r = await client.get("/api/v1/search", params={"q": "platypus"}, headers=auth)
            return int(r.json()["total"]) if r.status_code == 200 else -r.status_code

        assert await eventually(found, until=lambda n: n == 1) == 1
        assert (await client.get("/readyz")).status_code == 200


async def test_dead_opensearch_is_503(settings: CanteenSettings) -> None:
    if settings.backend != "external":
        pytest.skip("external only")
    dead = settings.model_copy(update={"opensearch_url": "http://127.0.0.1:1"})
    async for client in serve(create_single(dead, "search")):
        auth = await login_with(client)("viewer")
        r = await client.get("/api/v1/search", params={"q": "x"}, headers=auth)
        assert r.status_code == 503 and r.headers["content-type"].startswith(PROBLEM)
        assert (await client.get("/readyz")).status_code == 503


async def test_synonyms_apply_without_reindex_admins_only(
    client: httpx.AsyncClient, login: Login, publish: Publish
) -> None:
    auth, admin = await login("viewer"), await login("root", roles=["admin"])
    await publish(note("k8s", "Upgrading the k8s control plane"))
    await eventually(lambda: total(client, auth, "k8s"), until=lambda n: n == 1)
    assert await total(client, auth, "kubernetes") == 0
    rules = {"rules": ["kubernetes, k8s"]}
    assert (
        await client.put("/api/v1/admin/search/synonyms", json=rules, headers=auth)
    ).status_code == 403
    r = await client.put("/api/v1/admin/search/synonyms", json=rules, headers=admin)
    assert r.status_code == 200, r.text
    assert (await client.get("/api/v1/admin/search/synonyms", headers=admin)).json() == rules
    assert await total(client, auth, "kubernetes") == 1
    bad = await client.put(
        "/api/v1/admin/search/synonyms", json={"rules": [" => x"]}, headers=admin
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    assert (await client.get("/api/v1/admin/search/synonyms", headers=admin)).json() == rules


async def test_reindex_rebuilds_while_searches_keep_working(
    client: httpx.AsyncClient, login: Login, publish: Publish, settings: CanteenSettings
) -> None:
    auth = await login("viewer")
    # Unique per run: on the shared engines the replay also reads earlier runs' events.
    run = uuid.uuid4().hex[:8]
    word = f"narwhal{run}"
    await publish(*(note(f"r{run}{i}", f"{word} migration report {i}") for i in range(30)))
    await eventually(lambda: total(client, auth, word), until=lambda n: n == 30, within=90)
    phases: list[ReindexProgress] = []
    job = asyncio.create_task(
        reindex(
            settings,
            "posts",
            progress=lambda s: phases.append(ReindexProgress(**s.__dict__)),
            idle_seconds=1.0,
        )
    )
    during: list[int] = []
    while not job.done():
        during.append(await total(client, auth, word))
        if len(during) == 3:  # a change while the new index is being built
            await publish(note(f"late{run}", f"{word} late arrival"))
        await asyncio.sleep(0.05)
    final = await job
    assert final.phase == "done" and final.copied >= 30 and final.physical.endswith("000002")
    assert all(n >= 30 for n in during), during
    assert [s.phase for s in phases][-1] == "done"
    assert await eventually(lambda: total(client, auth, word), until=lambda n: n == 31) == 31


async def test_index_lag_metric(client: httpx.AsyncClient) -> None:
    metrics = (await client.get("/metrics")).text
    assert "canteen_search_index_lag_seconds" in metrics
    assert "canteen_search_last_indexed_event_timestamp_seconds" in metrics

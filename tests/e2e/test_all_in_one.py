"""`make run`'s process: four services on one port, meeting only on the event bus."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from shared.backends import make_bus
from shared.events import Event
from shared.events.schemas.activity import TOPIC as ACTIVITY_TOPIC
from shared.settings import CanteenSettings
from tests.e2e.conftest import token_for
from tests.support import eventually

PROBLEM = "application/problem+json"


async def test_health_readiness_metrics_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.text
    for service in ("activity", "profiles", "search", "notify"):
        assert f"{service}.store" in body and f"{service}.bus" in body
    metrics = (await client.get("/metrics")).text
    assert "http_requests" in metrics
    assert "canteen_bus_consumer_lag" in metrics or "canteen_bus_handled_total" in metrics
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/posts" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_a_post_is_stored_served_and_its_event_published(
    client: httpx.AsyncClient, settings: CanteenSettings
) -> None:
    token = await token_for(client, "ana")
    auth = {"Authorization": f"Bearer {token}"}
    created = await client.post(
        "/api/v1/posts",
        json={
            "kind": "note",
            "body_md": "How do I rotate #Kubernetes secrets?",
            "tags": ["Sécurité"],
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["author_id"] == "ana"
    assert post["topics"] == ["securite", "kubernetes"]
    fetched = await client.get(f"/api/v1/posts/{post['id']}", headers=auth)
    assert fetched.json()["text"] == "How do I rotate #Kubernetes secrets?"

    # The relay publishes the post.created event; any other process would see it on the bus.
    received: list[Event] = []

    async def collect(event: Event) -> None:
        received.append(event)

    bus = make_bus(settings, "test-observer", topics=[ACTIVITY_TOPIC])
    await bus.start()
    consumer = bus.consumer(
        group=f"observer-{uuid.uuid4().hex[:8]}", topics=[ACTIVITY_TOPIC], handler=collect
    )
    task = asyncio.create_task(consumer.run())
    try:

        async def ours() -> list[Event]:
            return [e for e in received if e.subject == post["id"]]

        events = await eventually(ours, within=60)
    finally:
        await consumer.stop()
        await task
        await bus.close()
    assert [e.type for e in events][:1] == ["canteen.activity.post.created.v1"]
    assert events[0].data["author_id"] == "ana"


async def test_feed_pages_with_opaque_cursors(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {await token_for(client, 'bo')}"}
    ids = []
    for i in range(5):
        response = await client.post("/api/v1/posts", json={"body_md": f"note {i}"}, headers=auth)
        ids.append(response.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/posts", params=params, headers=auth)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    tampered = await client.get("/api/v1/posts", params={"cursor": cursor or "abc"}, headers=auth)
    assert tampered.status_code == 400
    assert tampered.headers["content-type"].startswith(PROBLEM)


async def test_bad_input_is_a_problem_and_writes_nothing(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {await token_for(client, 'cy')}"}
    bad_requests = [
        client.post(
            "/api/v1/posts",
            content=b"{not json",
            headers={**auth, "content-type": "application/json"},
        ),
        client.post("/api/v1/posts", json={"body_md": 42}, headers=auth),
        client.post("/api/v1/posts", json={}, headers=auth),
        client.post("/api/v1/posts", json={"body_md": "x", "kind": "poem"}, headers=auth),
        client.post("/api/v1/posts", json={"body_md": "   "}, headers=auth),
        client.post("/api/v1/posts", json={"body_md": "q", "kind": "question"}, headers=auth),
        client.post("/api/v1/posts", json={"body_md": "x" * 2_000_000}, headers=auth),
        client.post("/api/v1/posts", json={"body_md": "no token"}),
        client.post(
            "/api/v1/posts",
            json={"body_md": "forged"},
            headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
        ),
    ]
    for request in bad_requests:
        response = await request
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "Traceback" not in response.text
    feed = await client.get("/api/v1/posts", headers=auth)
    assert feed.json()["items"] == []

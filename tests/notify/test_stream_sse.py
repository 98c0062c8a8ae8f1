"""The realtime stream over a real socket (uvicorn on loopback): delivery, heartbeats,
unread-count updates, stream tokens, Last-Event-ID resume, and two replicas each serving
their own clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

import services.notify.stream as stream_feature
from canteen.allinone import create_single
from shared.bus.port import EventBus
from shared.settings import CanteenSettings
from tests.notify.test_inbox_support import bus, follow, publish, uid
from tests.support import eventually

__all__ = ["bus"]
STREAM = "/api/v1/notifications/stream"


@dataclass
class Replica:
    base_url: str
    http: httpx.AsyncClient

    async def login(self, sub: str) -> dict[str, str]:
        response = await self.http.post("/api/v1/dev/token", json={"sub": sub, "roles": []})
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Sse:
    """One open stream: events and comments as they arrive."""

    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def notifications(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == "notification"]

    def unread(self) -> list[int]:
        return [
            orjson.loads(e["data"])["unread"] for e in self.events if e.get("event") == "unread"
        ]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def _read(response: httpx.Response, sse: Sse) -> None:
    current: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if current:
                sse.events.append(current)
            current = {}
        elif line.startswith(":"):
            sse.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            current[name] = value.removeprefix(" ")


async def open_stream(
    replica: Replica,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    last_event_id: str | None = None,
) -> Sse:
    sse = Sse()
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    hdrs = dict(headers or {})
    if last_event_id is not None:
        hdrs["Last-Event-ID"] = last_event_id

    async def run() -> None:
        async with (
            httpx.AsyncClient(base_url=replica.base_url, timeout=None) as http,
            http.stream("GET", STREAM, headers=hdrs, params=params) as response,
        ):
            started.set_result(response.status_code)
            if response.status_code == 200:
                await _read(response, sse)

    sse.task = asyncio.create_task(run())
    status = await asyncio.wait_for(started, 30)
    assert status == 200, status
    await until(lambda: sse.unread() != [])  # the stream is subscribed once it sent the count
    return sse


async def until(check: Callable[[], bool], within: float = 30) -> None:
    async def probe() -> bool:
        return check()

    await eventually(probe, within=within)


@pytest.fixture
async def replicas(
    settings: CanteenSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[[], Awaitable[Replica]]]:
    """Start notify app replicas over one store and one bus, each on its own port."""
    monkeypatch.setattr(stream_feature, "HEARTBEAT_SECONDS", 0.2)
    servers: list[tuple[uvicorn.Server, asyncio.Task[None], httpx.AsyncClient]] = []

    async def start() -> Replica:
        app = create_single(settings, "notify")
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        await until(lambda: server.started, within=60)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        http = httpx.AsyncClient(base_url=base)
        servers.append((server, task, http))
        return Replica(base, http)

    yield start
    for server, _task, http in servers:
        await http.aclose()
        server.should_exit = True
    for _, task, _ in servers:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 60)


async def test_delivery_heartbeats_and_unread_updates(
    replicas: Callable[[], Awaitable[Replica]], bus: EventBus
) -> None:
    app = await replicas()
    ana = uid("ana")
    headers = await app.login(ana)
    sse = await open_stream(app, headers=headers)
    try:
        assert sse.unread() == [0]
        await publish(bus, follow(uid("bo"), ana))
        await until(lambda: len(sse.notifications()) == 1)
        event = sse.notifications()[0]
        data = orjson.loads(event["data"])
        assert event["id"] == "1" and data["seq"] == 1 and data["type"] == "follower"
        await until(lambda: sse.unread()[-1:] == [1])
        await until(lambda: "ping" in sse.comments)
        # reading it (from any device) updates the count on the stream
        read = await app.http.post(f"/api/v1/notifications/{data['id']}/read", headers=headers)
        assert read.status_code == 200
        await until(lambda: sse.unread()[-1:] == [0])
    finally:
        await sse.close()


async def test_stream_token_for_event_source_and_bad_credentials(
    replicas: Callable[[], Awaitable[Replica]], bus: EventBus
) -> None:
    app = await replicas()
    ana = uid("ana")
    minted = await app.http.post("/api/v1/notifications/stream-token", headers=await app.login(ana))
    assert minted.status_code == 200
    assert minted.json()["expires_in"] == 60
    sse = await open_stream(app, params={"token": minted.json()["token"]})
    try:
        await publish(bus, follow(uid("bo"), ana))
        await until(lambda: len(sse.notifications()) == 1)
    finally:
        await sse.close()
    forged = minted.json()["token"][:-2] + "xx"
    for params, headers in (({"token": forged}, {}), ({}, {}), ({"token": "junk"}, {})):
        response = await app.http.get(STREAM, params=params, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await app.http.post("/api/v1/notifications/stream-token")).status_code == 401


async def test_resume_with_last_event_id_without_loss_or_repeats(
    replicas: Callable[[], Awaitable[Replica]], bus: EventBus
) -> None:
    app = await replicas()
    ana = uid("ana")
    headers = await app.login(ana)
    first = await open_stream(app, headers=headers)
    await publish(bus, follow(uid("a"), ana), follow(uid("b"), ana))
    await until(lambda: len(first.notifications()) == 2)
    await first.close()  # the connection drops
    last = first.notifications()[-1]["id"]
    await publish(bus, *[follow(uid("c"), ana) for _ in range(3)])

    async def unread() -> int:
        r = await app.http.get("/api/v1/notifications/unread-count", headers=headers)
        return int(r.json()["unread"])

    await eventually(unread, until=lambda n: n == 5, within=60)
    second = await open_stream(app, headers=headers, last_event_id=last)
    try:
        await publish(bus, follow(uid("d"), ana))
        await until(lambda: len(second.notifications()) == 4)
        ids = [int(e["id"]) for e in first.notifications() + second.notifications()]
        assert ids == [1, 2, 3, 4, 5, 6]
    finally:
        await second.close()


async def test_two_replicas_each_deliver_to_their_own_clients(
    replicas: Callable[[], Awaitable[Replica]], bus: EventBus
) -> None:
    one, two = await replicas(), await replicas()
    ana, bo = uid("ana"), uid("bo")
    ana_h, bo_h = await one.login(ana), await two.login(bo)
    on_one = await open_stream(one, headers=ana_h)
    on_two = await open_stream(two, headers=bo_h)
    try:
        for _ in range(3):
            await publish(bus, follow(uid("x"), ana), follow(uid("y"), bo))
        await until(lambda: len(on_one.notifications()) == 3, within=60)
        await until(lambda: len(on_two.notifications()) == 3, within=60)
        assert [int(e["id"]) for e in on_one.notifications()] == [1, 2, 3]
        assert [int(e["id"]) for e in on_two.notifications()] == [1, 2, 3]
        # a read through replica two reaches ana's stream on replica one
        read_all = await two.http.post("/api/v1/notifications/read-all", headers=ana_h)
        assert read_all.json()["unread"] == 0
        await until(lambda: on_one.unread()[-1:] == [0])
    finally:
        await on_one.close()
        await on_two.close()


async def test_open_streams_per_person_are_capped(
    replicas: Callable[[], Awaitable[Replica]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """OWASP API4: one person cannot hold an unbounded number of streams open."""
    import services.notify.stream.routes as stream_routes

    monkeypatch.setattr(stream_routes, "MAX_STREAMS_PER_USER", 2)
    app = await replicas()
    ana = await app.login(uid("ana"))
    opened = [await open_stream(app, headers=ana) for _ in range(2)]
    try:
        refused = await app.http.get(STREAM, headers=ana)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["retry-after"] == "30"
        other = await open_stream(app, headers=await app.login(uid("bo")))  # per person
        await other.close()
    finally:
        for sse in opened:
            await sse.close()

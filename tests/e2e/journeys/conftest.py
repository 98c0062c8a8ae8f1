"""The four services as four processes (`canteen serve <service>`), once per backend.

Journeys drive only what a client can reach: the public REST APIs (routed to the owning
service by the gateway's own prefix map, read from deploy/gateway/nginx.conf), the SSE
stream, an SMTP sink (aiosmtpd on loopback) and a Web Push endpoint (a loopback HTTP server
that records what arrives; the journey decrypts it as the browser would).

Embedded: the processes share one CANTEEN_DATA_DIR (own SQLite stores, one SQLite event
log). External: the engines of var/engines/engines.env with a fresh database prefix and
bus namespace for the session. Logs of all four are printed when a journey fails.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.stack import NotReady, free_port, wait_ready
from canteen.gateway import gateway_routes, service_for
from shared.settings import CanteenSettings
from tests.conftest import CURSOR_SECRET, DEV_SECRET
from tests.notify.test_email_support import Sink
from tests.support import engine_address

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("activity", "profiles", "search", "notify")
START_DEADLINE_SECONDS = 120
STOP_DEADLINE_SECONDS = 20
LOG_TAIL_LINES = 80
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class PushEndpoint:
    """A push service on loopback: records (path token, headers, body) of every POST."""

    origin: str
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def for_token(self, token: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for t, h, b in list(self.received) if t == token]


def _push_server(endpoint_holder: list[PushEndpoint]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            token = self.path.rsplit("/", 1)[-1]
            endpoint_holder[0].received.append((token, headers, body))
            self.send_response(201)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@dataclass
class Stack:
    backend: str
    urls: dict[str, str]
    routes: dict[str, str]
    logs: dict[str, Path]
    mail: Sink
    push: PushEndpoint
    vapid_public: bytes

    def url(self, path: str) -> str:
        """The absolute URL of `path` on the service the gateway would send it to."""
        return self.urls[service_for(path, self.routes)] + path

    def log_tails(self) -> str:
        out = []
        for service, path in self.logs.items():
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            out.append(f"----- {service} ({self.backend}), last {LOG_TAIL_LINES} lines -----")
            out.extend(lines[-LOG_TAIL_LINES:])
        return "\n".join(out)


def _environment(backend: str, data_dir: Path, smtp_port: int, vapid_scalar: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANTEEN_")}
    env.update(
        PYTHONUNBUFFERED="1",
        CANTEEN_ENV="dev",
        CANTEEN_BACKEND=backend,
        CANTEEN_DATA_DIR=str(data_dir),
        CANTEEN_DEV_SIGNING_SECRET=DEV_SECRET,
        CANTEEN_CURSOR_SECRET=CURSOR_SECRET,
        CANTEEN_OUTBOX_POLL_SECONDS="0.05",
        CANTEEN_LOG_FORMAT="console",
        CANTEEN_SMTP_HOST="127.0.0.1",
        CANTEEN_SMTP_PORT=str(smtp_port),
        CANTEEN_VAPID_PRIVATE_KEY=vapid_scalar,
        CANTEEN_VAPID_SUBJECT="mailto:ops@example.org",
    )
    if backend == "external":
        env.update(
            CANTEEN_KAFKA_BOOTSTRAP_SERVERS=engine_address("kafka"),
            CANTEEN_MONGODB_URI=engine_address("mongodb"),
            CANTEEN_OPENSEARCH_URL=engine_address("opensearch"),
            # Own databases, index aliases, topics and consumer groups for this session.
            CANTEEN_MONGODB_DATABASE_PREFIX=f"j{uuid.uuid4().hex[:10]}",
            CANTEEN_BUS_NAMESPACE=f"j{uuid.uuid4().hex[:10]}",
        )
    return env


def _wait_ready(stack: Stack, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    try:
        wait_ready(
            procs, stack.urls, SERVICES, tails=stack.log_tails, within=START_DEADLINE_SECONDS
        )
    except NotReady as exc:
        pytest.fail(str(exc), pytrace=False)


def _stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _drop_search_indexes(env: dict[str, str]) -> None:
    """The shared OpenSearch cluster has a shard limit: drop this session's indexes."""
    from tests.search.conftest import drop_indexes

    settings = CanteenSettings(
        backend="external",
        opensearch_url=env["CANTEEN_OPENSEARCH_URL"],
        mongodb_database_prefix=env["CANTEEN_MONGODB_DATABASE_PREFIX"],
    )
    asyncio.run(drop_indexes(settings))


@pytest.fixture(
    scope="session", params=["embedded", pytest.param("external", marks=pytest.mark.engines)]
)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    backend: str = request.param
    base = tmp_path_factory.mktemp(f"journeys-{backend}")
    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    holder: list[PushEndpoint] = []
    push_server = _push_server(holder)
    holder.append(PushEndpoint(origin=f"http://127.0.0.1:{push_server.server_address[1]}"))
    threading.Thread(target=push_server.serve_forever, daemon=True).start()
    vapid = ec.generate_private_key(ec.SECP256R1())
    scalar = b64(vapid.private_numbers().private_value.to_bytes(32, "big"))
    env = _environment(backend, base / "var", smtp_port, scalar)
    canteen = str(Path(sys.executable).parent / "canteen")
    ports = {service: free_port() for service in SERVICES}
    stack = Stack(
        backend=backend,
        urls={s: f"http://127.0.0.1:{p}" for s, p in ports.items()},
        routes=gateway_routes(),
        logs={s: base / f"{s}.log" for s in SERVICES},
        mail=sink,
        push=holder[0],
        vapid_public=vapid.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ),
    )
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in SERVICES:
            with stack.logs[service].open("wb") as log:
                procs[service] = subprocess.Popen(
                    [
                        canteen,
                        "serve",
                        service,
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(ports[service]),
                    ],
                    env=env,
                    cwd=base,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        _wait_ready(stack, procs)
        yield stack
    finally:
        _stop(procs)
        smtp.stop()
        push_server.shutdown()
        if backend == "external" and "CANTEEN_OPENSEARCH_URL" in env:
            _drop_search_indexes(env)
        crashed = {
            s: p.returncode
            for s, p in procs.items()
            if p.returncode not in (0, None, -signal.SIGTERM)
        }
        if crashed:
            print(f"services stopped with errors {crashed}\n" + stack.log_tails())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, stack: Stack) -> Iterator[None]:
    yield
    if request.node.stash.get(_FAILED, False):
        print(stack.log_tails())  # shown under "Captured stdout teardown"


class Api:
    """HTTP as a client sees the stack: `await api.get("/api/v1/feeds/home", as_="ana")`."""

    def __init__(self, stack: Stack, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.http = http
        self._tokens: dict[tuple[str, tuple[str, ...]], str] = {}

    async def token(self, user: str, roles: tuple[str, ...] = ()) -> str:
        key = (user, roles)
        if key not in self._tokens:
            response = await self.http.post(
                self.stack.url("/api/v1/dev/token"), json={"sub": user, "roles": list(roles)}
            )
            assert response.status_code == 200, response.text
            self._tokens[key] = response.json()["access_token"]
        return self._tokens[key]

    async def headers(self, user: str | None, roles: tuple[str, ...] = ()) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(user, roles)}"} if user else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        as_: str | None,
        roles: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        all_headers = {**await self.headers(as_, roles), **(headers or {})}
        return await self.http.request(method, self.stack.url(path), headers=all_headers, **kwargs)

    async def get(self, path: str, *, as_: str | None, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, as_=as_, **kw)

    async def post(self, path: str, *, as_: str | None, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, as_=as_, **kw)

    async def put(self, path: str, *, as_: str | None, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, as_=as_, **kw)

    async def patch(self, path: str, *, as_: str | None, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", path, as_=as_, **kw)

    async def delete(self, path: str, *, as_: str | None, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, as_=as_, **kw)

    async def ok(self, method: str, path: str, *, as_: str | None, **kw: Any) -> Any:
        """The JSON body of a 2xx answer (fails the journey on anything else)."""
        response = await self.request(method, path, as_=as_, **kw)
        assert response.is_success, (
            f"{method} {path} as {as_}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    async def join(self, *users: str) -> None:
        """People sign in once: dev mode provisions their profile from the token."""
        for user in users:
            await self.ok("GET", "/api/v1/people/me", as_=user)


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Api(stack, http)


class SseReader:
    """Reads a user's notification stream in the background; `events` are the parsed ones."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.opened = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self, api: Api, user: str) -> None:
        import orjson

        url = api.stack.url("/api/v1/notifications/stream")
        headers = await api.headers(user)
        timeout = httpx.Timeout(10, read=None)
        async with api.http.stream("GET", url, headers=headers, timeout=timeout) as response:
            assert response.status_code == 200, await response.aread()
            event: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if event.get("event") == "unread":
                        self.opened.set()  # sent once the stream is subscribed
                    if event.get("event") == "notification":
                        self.events.append(orjson.loads(event["data"]))
                    event = {}
                elif not line.startswith(":") and ":" in line:
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")

    async def open(self, api: Api, user: str) -> None:
        self._task = asyncio.create_task(self._run(api, user))
        waiter = asyncio.create_task(self.opened.wait())
        done, _ = await asyncio.wait(
            {self._task, waiter}, timeout=30, return_when="FIRST_COMPLETED"
        )
        if self._task in done:
            self._task.result()  # raises what went wrong
        assert waiter in done, "the stream did not open within 30 s"

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@pytest.fixture
async def sse() -> AsyncIterator[SseReader]:
    reader = SseReader()
    yield reader
    await reader.close()

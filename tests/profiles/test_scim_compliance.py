"""scim2-tester's compliance checks, run against the SCIM endpoint over real HTTP.

The checker is synchronous: the app is served by uvicorn on a free loopback port in
the test's event loop, and the checker runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from scim2_client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException
from scim2_tester import CheckResult, Status, check_server

from canteen.allinone import create_single
from shared.settings import CanteenSettings
from tests.profiles.test_people_support import dev_auto_provision
from tests.support import eventually

__all__ = ["dev_auto_provision"]


class HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client's sync engine on httpx (its own engine wants the httpx2 fork)."""

    def __init__(self, client: httpx.Client) -> None:
        super().__init__()
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        return same_origin and url.raw_path.startswith(base.raw_path.rstrip(b"/"))

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            raise RequestNetworkException() from exc


@pytest.fixture
async def served(settings: CanteenSettings) -> AsyncIterator[str]:
    """The profiles service on http://127.0.0.1:<free port>."""
    app = create_single(settings, "profiles")
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(manager.app, lifespan="off", log_config=None, access_log=False)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))

        async def started() -> bool:
            return bool(server.started)

        await eventually(started, within=30)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task
            sock.close()


async def provisioning_token(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        signed = await http.post("/api/v1/dev/token", json={"sub": "root", "roles": ["admin"]})
        admin = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        issued = await http.post(
            "/api/v1/admin/scim-tokens", json={"name": "tester"}, headers=admin
        )
        assert issued.status_code == 201, issued.text
        token: str = issued.json()["token"]
        return token


def run_checks(base: str, token: str) -> list[CheckResult]:
    with httpx.Client(
        base_url=f"{base}/scim/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        return check_server(HttpxSCIMClient(http))


async def test_scim2_tester_finds_no_failure(served: str) -> None:
    token = await provisioning_token(served)
    results = await asyncio.to_thread(run_checks, served, token)
    failures = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    assert failures == [], "\n".join(f"{r.title}: {r.reason} {r.data!r}"[:800] for r in failures)
    passed = {r.title for r in results if r.status == Status.SUCCESS}
    for check in (
        "object_creation",
        "object_replacement",
        "object_deletion",
        "check_replace_attribute",
        "check_remove_attribute",
        "random_url",
    ):
        assert check in passed, check
    # The one check left out: POST /.search across every resource type answers 501.
    skipped = {r.title for r in results if r.status == Status.SKIPPED}
    assert skipped <= {"search_with_attributes"}, skipped

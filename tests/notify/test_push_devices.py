"""Web Push through a local push service that decrypts what arrives (RFC 8291, http_ece)
and checks the VAPID JWT (RFC 8292); device registration, listing, revocation, pruning."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import http_ece
import httpx
import jwt
import orjson
import pytest
import structlog
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from canteen.allinone import create_single
from services.notify.email.outbox import EMAIL_OUTBOX
from services.notify.push.repository import MAX_DEVICES, PUSH_QUEUE
from shared.backends import make_store
from shared.bus.port import EventBus
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore
from tests.conftest import Login, login_with, serve
from tests.notify import test_email_support as mail
from tests.notify.test_email_support import Sink, deliver, notification
from tests.notify.test_inbox_support import bus, join, pinned, publish, uid, wait_inbox
from tests.support import eventually

smtp = mail.smtp
__all__ = ["bus"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@dataclass
class Browser:
    """A subscription as a browser makes one: a P-256 key pair and a 16-byte auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        keys = {"p256dh": b64(raw_public(self.key)), "auth": b64(self.auth)}
        return {"endpoint": self.endpoint, "keys": keys}


@dataclass
class PushService:
    origin: str
    answers: dict[str, int] = field(default_factory=dict)  # path token -> status
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append((token, headers, await request.read()))
        return web.Response(status=self.answers.get(token, 201))


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    service = PushService(origin=f"http://127.0.0.1:{port}")
    app = web.Application()
    app.router.add_post("/push/{token}", service.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield service
    await runner.cleanup()


VAPID = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def push_settings(settings: CanteenSettings) -> CanteenSettings:
    scalar = VAPID.private_numbers().private_value.to_bytes(32, "big")
    return settings.model_copy(
        update={
            "vapid_private_key": SecretStr(b64(scalar)),
            "vapid_subject": "mailto:ops@example.org",
        }
    )


@pytest.fixture
async def push_client(push_settings: CanteenSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(create_single(push_settings, "notify")):
        yield http


@pytest.fixture
async def store(
    push_settings: CanteenSettings, push_client: httpx.AsyncClient
) -> AsyncIterator[DocumentStore]:
    handle = make_store(push_settings, "notify")
    yield handle
    await handle.close()


@pytest.fixture
def login(push_client: httpx.AsyncClient) -> Login:
    return login_with(push_client)


def check_vapid(headers: dict[str, str], origin: str) -> None:
    scheme, _, params = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.split("=", 1) for p in params.split(","))
    assert unb64(parts["k"]) == raw_public(VAPID)
    claims = jwt.decode(parts["t"], VAPID.public_key(), algorithms=["ES256"], audience=origin)
    assert claims["sub"] == "mailto:ops@example.org"
    assert claims["exp"] > datetime.now(UTC).timestamp()


def decrypt(browser: Browser, body: bytes) -> dict[str, Any]:
    plain = http_ece.decrypt(
        body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
    )
    result: dict[str, Any] = orjson.loads(plain)
    return result


async def test_push_is_encrypted_signed_and_carries_no_private_content(
    push_client: httpx.AsyncClient, store: DocumentStore, push_service: PushService, login: Login
) -> None:
    ana = await login("ana")
    browser = Browser(f"{push_service.origin}/push/ana-phone")
    created = await push_client.post("/api/v1/devices", json=browser.subscription(), headers=ana)
    assert created.status_code == 201, created.text

    await deliver(store, notification("p1", "ana", private=True))

    async def arrived() -> list:
        return push_service.received

    [(token, headers, body)] = await eventually(arrived)
    assert token == "ana-phone"
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
    check_vapid(headers, push_service.origin)
    message = decrypt(browser, body)
    assert message["title"] == message["body"] == "New mention in a private group"
    assert "Lyon" not in str(message) and "Budget" not in str(message)

    async def device() -> list:
        return (await push_client.get("/api/v1/devices", headers=ana)).json()

    [listed] = await eventually(device, until=lambda d: d and d[0]["last_success_at"])
    assert listed["id"] == created.json()["id"]


@pytest.mark.parametrize("status", [404, 410])
async def test_gone_subscription_is_pruned(
    push_client: httpx.AsyncClient,
    store: DocumentStore,
    push_service: PushService,
    login: Login,
    status: int,
) -> None:
    ana = await login("ana")
    push_service.answers["old"] = status
    old = Browser(f"{push_service.origin}/push/old")
    new = Browser(f"{push_service.origin}/push/new")
    for browser in (old, new):
        r = await push_client.post("/api/v1/devices", json=browser.subscription(), headers=ana)
        assert r.status_code == 201

    await deliver(store, notification("p2", "ana"))

    async def devices() -> list[str]:
        return [
            d["endpoint"] for d in (await push_client.get("/api/v1/devices", headers=ana)).json()
        ]

    assert await eventually(devices, until=lambda e: len(e) == 1) == [new.endpoint]
    [(_, _, body)] = [r for r in push_service.received if r[0] == "new"]
    assert decrypt(new, body)["body"] == "bo mentioned you: hello"


async def test_payload_too_large_keeps_the_device(
    push_client: httpx.AsyncClient, store: DocumentStore, push_service: PushService, login: Login
) -> None:
    """A 413 is about that message, not the subscription: the device stays, the refusal is
    logged as a warning, and the same payload is not sent to it again."""
    ana = await login("ana")
    push_service.answers["big"] = 413
    big = Browser(f"{push_service.origin}/push/big")
    ok = Browser(f"{push_service.origin}/push/ok")
    for browser in (big, ok):
        r = await push_client.post("/api/v1/devices", json=browser.subscription(), headers=ana)
        assert r.status_code == 201

    with structlog.testing.capture_logs() as logs:
        await deliver(store, notification("p413", "ana"))
        done = await eventually(
            lambda: store.collection(PUSH_QUEUE).find_one({"_id": "p413"}),
            until=lambda item: item is not None and item["state"] == "done",
        )
    assert done["attempts"] == 1
    assert [r[0] for r in push_service.received].count("big") == 1
    listed = (await push_client.get("/api/v1/devices", headers=ana)).json()
    assert sorted(d["endpoint"] for d in listed) == sorted([big.endpoint, ok.endpoint])
    [refused] = [e for e in logs if e["event"] == "notify.push.payload_refused"]
    assert refused["log_level"] == "warning" and refused["status"] == 413
    assert not [e for e in logs if e["event"] == "notify.push.device_pruned"]


async def test_a_push_held_by_quiet_hours_is_withdrawn_if_its_notification_is_hidden(
    push_client: httpx.AsyncClient, store: DocumentStore, push_service: PushService, login: Login
) -> None:
    """Held until quiet hours end; its post is deleted meanwhile: the phone gets nothing."""
    ana = await login("ana")
    phone = Browser(f"{push_service.origin}/push/ana-quiet")
    r = await push_client.post("/api/v1/devices", json=phone.subscription(), headers=ana)
    assert r.status_code == 201
    now = datetime.now(UTC)
    quiet = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    saved = await push_client.put(
        "/api/v1/notification-preferences",
        json={"quiet_hours": quiet, "time_zone": "UTC"},
        headers=ana,
    )
    assert saved.status_code == 200, saved.text
    await deliver(store, notification("pq", "ana"))
    queue = store.collection(PUSH_QUEUE)
    held = await eventually(lambda: queue.find_one({"_id": "pq", "state": "pending"}))
    assert held["next_attempt_at"] > now + timedelta(hours=1)
    await store.collection("notifications").update_one({"_id": "pq"}, {"$set": {"hidden": True}})
    await queue.update_one({"_id": "pq"}, {"$set": {"next_attempt_at": now}})  # quiet hours end
    done = await eventually(lambda: queue.find_one({"_id": "pq", "state": "done"}))
    assert done["delivered"] == []
    assert [t for t, _, _ in push_service.received if t == "ana-quiet"] == []


async def test_devices_are_private_to_their_owner(
    push_client: httpx.AsyncClient, push_service: PushService, login: Login
) -> None:
    ana, bo = await login("ana"), await login("bo")
    browser = Browser(f"{push_service.origin}/push/x")
    device = (
        await push_client.post("/api/v1/devices", json=browser.subscription(), headers=ana)
    ).json()

    assert (await push_client.get("/api/v1/devices", headers=bo)).json() == []
    gone = await push_client.delete(f"/api/v1/devices/{device['id']}", headers=bo)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert (await push_client.delete("/api/v1/devices/nope", headers=ana)).status_code == 404
    assert (
        await push_client.delete(f"/api/v1/devices/{device['id']}", headers=ana)
    ).status_code == 204
    assert (await push_client.get("/api/v1/devices", headers=ana)).json() == []
    assert (await push_client.get("/api/v1/devices")).status_code == 401


async def test_vapid_public_key_is_the_application_server_key(
    push_client: httpx.AsyncClient, login: Login
) -> None:
    response = await push_client.get("/api/v1/devices/vapid-public-key", headers=await login("ana"))
    assert response.status_code == 200
    assert unb64(response.json()["public_key"]) == raw_public(VAPID)


async def test_invalid_subscriptions_are_422_and_nothing_is_stored(
    push_client: httpx.AsyncClient, push_service: PushService, login: Login
) -> None:
    ana = await login("ana")
    good = Browser(f"{push_service.origin}/push/ok").subscription()
    bad_point = b64(b"\x04" + b"\x01" * 64)
    cases = [
        {**good, "endpoint": "http://push.example.com/x"},  # plain http off loopback
        {**good, "endpoint": "ftp://push.example.com/x"},
        {**good, "endpoint": "not a url at all"},
        {**good, "keys": {**good["keys"], "p256dh": bad_point}},
        {**good, "keys": {**good["keys"], "p256dh": "!" * 87}},
        {**good, "keys": {**good["keys"], "auth": b64(b"short-secret")}},
        {**good, "keys": {"p256dh": good["keys"]["p256dh"]}},
        {**good, "surprise": True},
        {"endpoint": good["endpoint"]},
    ]
    for body in cases:
        response = await push_client.post("/api/v1/devices", json=body, headers=ana)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await push_client.get("/api/v1/devices", headers=ana)).json() == []


async def test_the_device_limit_holds_when_registrations_race(
    push_client: httpx.AsyncClient, push_service: PushService, login: Login
) -> None:
    cy = await login("cy")
    for i in range(MAX_DEVICES - 2):
        body = Browser(f"{push_service.origin}/push/cy-{i}").subscription()
        assert (await push_client.post("/api/v1/devices", json=body, headers=cy)).status_code == 201
    # Four browsers at once for the last two places: each checks the count, then writes.
    racing = [Browser(f"{push_service.origin}/push/cy-late-{i}").subscription() for i in range(4)]
    answers = await asyncio.gather(
        *(push_client.post("/api/v1/devices", json=b, headers=cy) for b in racing)
    )
    codes = sorted(a.status_code for a in answers)
    accepted = codes.count(201)
    assert accepted <= 2 and codes == [201] * accepted + [409] * (4 - accepted), codes
    kept = (await push_client.get("/api/v1/devices", headers=cy)).json()
    assert len(kept) == MAX_DEVICES - 2 + accepted
    registered = {a.json()["id"] for a in answers if a.status_code == 201}
    assert registered <= {d["id"] for d in kept}
    # Whatever the race left, the places left are there to take, one at a time.
    for i in range(2 - accepted):
        body = Browser(f"{push_service.origin}/push/cy-after-{i}").subscription()
        assert (await push_client.post("/api/v1/devices", json=body, headers=cy)).status_code == 201
    one_more = Browser(f"{push_service.origin}/push/cy-too-many").subscription()
    assert (await push_client.post("/api/v1/devices", json=one_more, headers=cy)).status_code == 409
    assert len((await push_client.get("/api/v1/devices", headers=cy)).json()) == MAX_DEVICES


@pytest.fixture
async def mail_push_client(
    push_settings: CanteenSettings, smtp: tuple[Sink, int]
) -> AsyncIterator[tuple[httpx.AsyncClient, DocumentStore]]:
    """The notify service with both SMTP (aiosmtpd) and Web Push on, and its store."""
    both = push_settings.model_copy(update={"smtp_port": smtp[1], "smtp_host": "127.0.0.1"})
    async for http in serve(create_single(both, "notify")):
        handle = make_store(both, "notify")
        try:
            yield http, handle
        finally:
            await handle.close()


async def test_a_pinned_announcement_bypasses_quiet_hours_on_every_channel(
    mail_push_client: tuple[httpx.AsyncClient, DocumentStore],
    push_service: PushService,
    smtp: tuple[Sink, int],
    bus: EventBus,
) -> None:
    """Mia is inside her quiet hours; the admin pins a post in her group: it reaches her
    by mail and on her phone all the same.
    The group's approval, sent in the same quiet hours, waits for them to end."""
    client, store = mail_push_client
    sink, _ = smtp
    login = login_with(client)
    owner, mia, group = uid("own"), uid("mia"), uid("g")
    headers = await login(mia)
    phone = Browser(f"{push_service.origin}/push/{mia}")
    registered = await client.post("/api/v1/devices", json=phone.subscription(), headers=headers)
    assert registered.status_code == 201, registered.text
    now = datetime.now(UTC)
    quiet = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    saved = await client.put(
        "/api/v1/notification-preferences",
        json={
            # Announcements cannot be switched off (a 422, see the preferences tests):
            # quiet hours are what they must get through here.
            "quiet_hours": quiet,
            "time_zone": "UTC",
            "email_address": "mia@example.org",
        },
        headers=headers,
    )
    assert saved.status_code == 200, saved.text

    await join(bus, client, login, group, owner, mia)
    await publish(bus, pinned(uid("post"), owner, owner, group))

    [ann] = await wait_inbox(client, headers, type="announcement")
    notification_id = ann["items"][0]["id"]
    [message] = await eventually(lambda: _mail(sink, f"<n-{notification_id}@canteen.local>"))
    assert message["To"] == "mia@example.org"
    assert message["List-Unsubscribe"] is None  # critical: nothing to unsubscribe from

    async def pushed() -> list[dict[str, Any]]:
        return [decrypt(phone, body) for token, _, body in push_service.received if token == mia]

    [shown] = await eventually(pushed)
    assert shown["id"] == notification_id and shown["type"] == "announcement"

    # The control: her approval, not critical, is held by the same quiet hours.
    [approved] = await wait_inbox(client, headers, type="group.approved")
    approval_id = approved["items"][0]["id"]
    held = await eventually(
        lambda: store.collection(EMAIL_OUTBOX).find_one({"_id": f"n:{approval_id}"})
    )
    assert held["state"] == "pending" and held["next_attempt_at"] > now + timedelta(hours=1)
    assert [m["Message-ID"] for m in sink.messages] == [message["Message-ID"]]
    assert [m["id"] for m in await pushed()] == [notification_id]


async def _mail(sink: Sink, message_id: str) -> list[Any]:
    return sink.with_id(message_id)

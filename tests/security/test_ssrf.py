"""OWASP API7 (SSRF): the only URLs the server fetches are Web Push endpoints, and those
must be public push services — never a private, link-local (cloud metadata), loopback or
internal-name address, checked when registering and again when connecting (DNS rebinding).
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.notify.push.subscriptions import InvalidSubscription, check, internal_host
from services.notify.push.webpush import BlockedAddress, PublicOnlyResolver


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


P256DH = _b64url(
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
)
AUTH = _b64url(bytes(range(16)))

REFUSED = [
    "https://10.0.0.5/push/abc",
    "https://192.168.1.10/push",
    "https://172.16.3.4/push",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/push",
    "https://[fd00::1]/push",
    "https://[fe80::1]/push",
    "https://0.0.0.0/push",
    "https://224.0.0.1/push",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://printer.local/push",
    "https://intranet/push",
    "https://localhost/push",
    "https://127.0.0.1/push",
    "https://[::1]/push",
]


@pytest.mark.parametrize("endpoint", REFUSED)
def test_internal_push_endpoints_are_refused_when_registering(endpoint: str) -> None:
    with pytest.raises(InvalidSubscription, match="endpoint"):
        check(endpoint, P256DH, AUTH, allow_loopback_http=False)


def test_public_push_services_are_accepted() -> None:
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGx",
        "https://8.8.8.8/push",
    ):
        check(endpoint, P256DH, AUTH, allow_loopback_http=False)


def test_loopback_only_where_the_server_itself_runs_on_loopback() -> None:
    check("http://127.0.0.1:9999/push", P256DH, AUTH, allow_loopback_http=True)
    assert not internal_host("localhost", allow_loopback=True)
    assert internal_host("10.0.0.5", allow_loopback=True)  # private stays refused in dev
    assert internal_host("169.254.169.254", allow_loopback=True)


async def test_a_name_that_resolves_inside_is_refused_when_connecting() -> None:
    resolver = PublicOnlyResolver(allow_loopback=False)
    try:
        with pytest.raises(BlockedAddress):
            await resolver.resolve("localhost", 443)  # a public-looking name could too
        dev = PublicOnlyResolver(allow_loopback=True)
        found = await dev.resolve("localhost", 443)
        assert found and all(r["host"] in ("127.0.0.1", "::1") for r in found)
        await dev.close()
    finally:
        await resolver.close()

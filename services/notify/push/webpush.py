"""`WebPushProvider`: RFC 8030 delivery, RFC 8291 encryption (aes128gcm), RFC 8292 VAPID."""

from __future__ import annotations

import base64
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPusher

from services.notify.push.provider import Outcome, PushProvider, PushResult
from services.notify.push.subscriptions import allowed_address, internal_host

TIMEOUT = aiohttp.ClientTimeout(total=10)


def load_vapid(private_key: str) -> Vapid:
    """A VAPID key from PEM, DER (base64url) or a raw 32-byte scalar (base64url)."""
    if "BEGIN" in private_key:
        return Vapid.from_pem(private_key.encode())
    return Vapid.from_string(private_key)


class BlockedAddress(OSError):
    """The push endpoint resolves to no address we may connect to."""


class PublicOnlyResolver(aiohttp.abc.AbstractResolver):
    """Resolves like aiohttp, then drops internal addresses (SSRF; DNS rebinding)."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found if allowed_address(r["host"], allow_loopback=self._allow_loopback)]
        if not kept:
            raise BlockedAddress(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        await self._inner.close()


class WebPushProvider(PushProvider):
    def __init__(self, private_key: str, subject: str, *, allow_loopback: bool = False) -> None:
        self._vapid = load_vapid(private_key)
        self._subject = subject
        self._allow_loopback = allow_loopback
        self._session: aiohttp.ClientSession | None = None

    @property
    def public_key(self) -> str:
        raw = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    async def send(self, device: dict[str, Any], payload: bytes, *, ttl: int) -> PushResult:
        endpoint = device["endpoint"]
        url = urlsplit(endpoint)
        if internal_host(url.hostname or "", allow_loopback=self._allow_loopback):
            return PushResult(Outcome.GONE, None, "internal address")
        claims = {"sub": self._subject, "aud": f"{url.scheme}://{url.netloc}"}
        headers = self._vapid.sign(claims)  # exp: 24 h ahead (RFC 8292 allows at most 24 h)
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=PublicOnlyResolver(allow_loopback=self._allow_loopback)
            )
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, connector=connector)
        pusher = WebPusher(
            {"endpoint": endpoint, "keys": device["keys"]}, aiohttp_session=self._session
        )
        try:
            response = await pusher.send_async(payload, headers, ttl=ttl, timeout=TIMEOUT)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, BlockedAddress):
                return PushResult(Outcome.GONE, None, "internal address")
            return PushResult(Outcome.RETRY, None, type(exc).__name__)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return PushResult(Outcome.RETRY, None, type(exc).__name__)
        assert not isinstance(response, str)
        status = response.status
        response.release()
        if status in (404, 410):
            return PushResult(Outcome.GONE, status)
        if 200 <= status < 300:
            return PushResult(Outcome.DELIVERED, status)
        if status == 429 or status >= 500:
            return PushResult(Outcome.RETRY, status)
        if status == 413:  # about this payload, not the subscription (RFC 8030 §7.2)
            return PushResult(Outcome.REFUSED, status, "payload too large")
        # 400/403: our request is wrong for this subscription; retrying will not help.
        return PushResult(Outcome.GONE, status, "rejected")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

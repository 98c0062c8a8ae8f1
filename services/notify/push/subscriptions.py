"""What a valid browser push subscription looks like (pure)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

LOOPBACK_NAMES = {"localhost"}
# Names that only ever mean "inside this network": never a browser vendor's push service.
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa")


class InvalidSubscription(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_address(address: str, *, allow_loopback: bool) -> bool:
    """SSRF guard (OWASP API7): push goes to public push services only.

    Private, link-local (cloud metadata at 169.254.169.254), shared, reserved and
    multicast addresses are refused; loopback only where the server itself runs on it.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def internal_host(host: str, *, allow_loopback: bool) -> bool:
    """True for a host a push endpoint may never name (an address or an internal name)."""
    host = host.lower().rstrip(".")
    try:
        return not allowed_address(host, allow_loopback=allow_loopback)
    except ValueError:
        pass  # a name, not an address
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return not allow_loopback
    # Single-label and internal names; a public-looking name's addresses are checked when
    # connecting (webpush.PublicOnlyResolver), which also defeats DNS rebinding.
    return host.endswith(_INTERNAL_SUFFIXES) or "." not in host


def check(endpoint: str, p256dh: str, auth: str, *, allow_loopback_http: bool) -> None:
    """Raise InvalidSubscription naming the bad field."""
    url = urlsplit(endpoint)
    host = url.hostname or ""
    if not host or url.username or url.password:
        raise InvalidSubscription("endpoint", "must be an absolute URL without credentials")
    if url.scheme != "https" and not (
        url.scheme == "http" and allow_loopback_http and is_loopback(host)
    ):
        raise InvalidSubscription("endpoint", "must be an https URL")
    if internal_host(host, allow_loopback=allow_loopback_http):
        raise InvalidSubscription("endpoint", "must be a public push service, not an internal host")
    try:
        point = b64url(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise InvalidSubscription("keys.p256dh", "must be a P-256 public key (base64url)") from exc
    if len(point) != 65:
        raise InvalidSubscription("keys.p256dh", "must be an uncompressed P-256 point")
    try:
        secret = b64url(auth)
    except ValueError as exc:
        raise InvalidSubscription("keys.auth", "must be base64url") from exc
    if len(secret) != 16:
        raise InvalidSubscription("keys.auth", "must be 16 bytes")

"""Signed one-click unsubscribe tokens (pure): HMAC-SHA256 over the user and the kind.

A token names what it unsubscribes from: `digest`, or one notification type's immediate
email. It carries no expiry on purpose: an unsubscribe link in an old mail must still work
(RFC 8058 asks that it keep working), and it can only ever turn mail off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

DIGEST = "digest"


class InvalidToken(ValueError):
    """Malformed, or not signed with our secret."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), b"unsubscribe:" + body.encode(), hashlib.sha256).digest()
    return _b64(digest)


def sign(secret: str, user_id: str, kind: str) -> str:
    body = _b64(json.dumps({"u": user_id, "k": kind}, separators=(",", ":")).encode())
    return f"{body}.{_mac(secret, body)}"


def verify(secret: str, token: str) -> tuple[str, str]:
    """(user_id, kind) of a token we signed; InvalidToken otherwise."""
    body, _, mac = token.partition(".")
    # Bytes: compare_digest refuses non-ASCII str, and a link may arrive mangled.
    expected = _mac(secret, body).encode()
    if not body or not mac or not hmac.compare_digest(mac.encode(), expected):
        raise InvalidToken("bad signature")
    try:
        claims = json.loads(_unb64(body))
        user_id, kind = claims["u"], claims["k"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("malformed") from exc
    if not isinstance(user_id, str) or not isinstance(kind, str) or not user_id or not kind:
        raise InvalidToken("malformed")
    return user_id, kind

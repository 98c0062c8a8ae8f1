"""Short-lived stream tokens for browsers' EventSource (which cannot send headers).

Stateless: base64url(JSON {sub, roles, exp}) "." base64url(HMAC-SHA256), keyed by a key
derived from the service's signing secret, so a token is useless for anything but the stream.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import orjson

from shared.http.auth.principal import Principal

TTL_SECONDS = 60
MAX_TOKEN_CHARS = 2048


class InvalidStreamToken(ValueError):
    """Malformed, forged or expired."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StreamTokens:
    def __init__(self, secret: str, ttl_seconds: int = TTL_SECONDS) -> None:
        self._key = hmac.new(secret.encode(), b"canteen.notify.stream", hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds

    def issue(self, principal: Principal, *, now: float | None = None) -> str:
        exp = int((now if now is not None else time.time()) + self.ttl_seconds)
        body = orjson.dumps(
            {"sub": principal.user_id, "roles": sorted(principal.roles), "exp": exp}
        )
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def verify(self, token: str, *, now: float | None = None) -> Principal:
        try:
            if len(token) > MAX_TOKEN_CHARS:
                raise ValueError("too long")
            body_text, tag_text = token.split(".")
            body, tag = _unb64(body_text), _unb64(tag_text)
            if not hmac.compare_digest(tag, self._sign(body)):
                raise ValueError("bad signature")
            claims = orjson.loads(body)
            exp, sub, roles = int(claims["exp"]), str(claims["sub"]), claims["roles"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidStreamToken("invalid stream token") from exc
        if exp < (now if now is not None else time.time()):
            raise InvalidStreamToken("stream token expired")
        return Principal(user_id=sub, roles=frozenset(str(r) for r in roles))

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

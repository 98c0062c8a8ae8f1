"""Keyset pagination with opaque, tamper-evident cursors."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Generic, TypeAlias, TypeVar

import orjson
from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel

from shared.http.problems import Problem, problem_type

CursorValue: TypeAlias = str | int | float | bool | datetime | None
CursorPayload: TypeAlias = Mapping[str, CursorValue]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_VERSION = b"\x01"
_TAG_BYTES = 32
MAX_CURSOR_CHARS = 2048
# JSON has no datetime, and a plain string must not come back as one.
_DATETIME_TAG = "$dt"

T = TypeVar("T")


class InvalidCursor(Problem):
    def __init__(self) -> None:
        super().__init__(
            400,
            "Invalid cursor",
            type=problem_type("invalid-cursor"),
            detail="invalid cursor: use a next_cursor value returned by this endpoint",
        )


class CursorCodec:
    """Encodes the last item's sort keys as version | HMAC-SHA256 tag | JSON, base64url."""

    def __init__(self, secret: str | bytes) -> None:
        self._secret = secret.encode() if isinstance(secret, str) else secret

    def encode(self, payload: CursorPayload) -> str:
        body = orjson.dumps(
            {key: _tagged(value) for key, value in payload.items()}, option=orjson.OPT_SORT_KEYS
        )
        raw = _VERSION + self._tag(body) + body
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, cursor: str) -> dict[str, CursorValue]:
        """The payload; raises InvalidCursor for anything not minted with our secret."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidCursor
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursor from None
        version, tag, body = raw[:1], raw[1 : 1 + _TAG_BYTES], raw[1 + _TAG_BYTES :]
        if version != _VERSION or not hmac.compare_digest(tag, self._tag(body)):
            raise InvalidCursor
        try:
            data = orjson.loads(body)
            if not isinstance(data, dict):
                raise ValueError("payload is not an object")
            return {str(key): _untagged(value) for key, value in data.items()}
        except ValueError:
            raise InvalidCursor from None

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._secret, _VERSION + body, hashlib.sha256).digest()


def _tagged(value: CursorValue) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("cursor datetimes must be timezone-aware")
        return {_DATETIME_TAG: value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"unsupported cursor value: {type(value).__name__}")


def _untagged(value: object) -> CursorValue:
    if isinstance(value, dict):
        text = value.get(_DATETIME_TAG)
        if len(value) != 1 or not isinstance(text, str):
            raise ValueError("unknown tagged value")
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError("unsupported value")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PageParams:
    """A page request: `after` is the decoded cursor, ready for a keyset query."""

    limit: int
    after: dict[str, CursorValue] | None
    codec: CursorCodec

    @property
    def fetch_limit(self) -> int:
        """Fetch one extra item: its presence is how we know a next page exists."""
        return self.limit + 1

    def page(self, items: Sequence[T], cursor_of: Callable[[T], CursorPayload]) -> Page[T]:
        """Trim a `fetch_limit` result to a page, with a cursor after its last item."""
        shown = list(items[: self.limit])
        if len(items) <= self.limit or not shown:
            return Page(items=shown)
        return Page(items=shown, next_cursor=self.codec.encode(cursor_of(shown[-1])))


def get_cursor_codec(app: FastAPI) -> CursorCodec:
    codec = app.state.cursor_codec
    assert isinstance(codec, CursorCodec)
    return codec


# Async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
async def page_params(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
) -> PageParams:
    codec = get_cursor_codec(request.app)
    after = codec.decode(cursor) if cursor else None
    return PageParams(limit=limit, after=after, codec=codec)


PageDep = Annotated[PageParams, Depends(page_params)]

"""Opaque `search_after` cursors: the sort key of the last hit plus the ranking clock.

The clock (`now`) is kept so that recency decay scores the next page exactly like the
first one; otherwise scores drift between pages and hits are lost or repeated.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from shared.search.errors import SearchQueryError


@dataclass(frozen=True, slots=True)
class Cursor:
    key: tuple[Any, ...]
    now: float


def encode(cursor: Cursor) -> str:
    raw = json.dumps([list(cursor.key), cursor.now], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str) -> Cursor:
    try:
        padded = token + "=" * (-len(token) % 4)
        key, now = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(key, list) or not isinstance(now, int | float):
            raise ValueError("bad cursor shape")
        return Cursor(tuple(key), float(now))
    except (ValueError, TypeError) as exc:
        raise SearchQueryError("invalid search_after cursor") from exc

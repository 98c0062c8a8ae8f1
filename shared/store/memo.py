"""Reads of rarely changing documents, kept briefly for hot paths.

A value is kept `ttl` seconds at most, and forgotten as soon as the store can tell it
changed: on a store with a change token (`DocumentStore.change_token`, the embedded
SQLite store) every committed write forgets everything, so nothing is ever stale there,
and pages kept until the next write (activity's `PageCache`) never hold an old value
longer than the store does. Where the store has no token (MongoDB) a value may be up to
`ttl` old: use it only for what reaches the service late anyway (another service's data,
through events) or where a few seconds' delay is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K")
V = TypeVar("V")


class StoreMemo(Generic[K, V]):
    """Use: `token = memo.current()`, then `memo.get(key)`; on a miss, read, then
    `memo.put(key, value, token)`."""

    def __init__(
        self,
        token: Callable[[], int | None],
        *,
        ttl: float,
        maxsize: int,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token
        self._seen: int | None = None
        self._values: TTLCache[K, V] = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)

    def current(self) -> int | None:
        """The store's token now (read it before the value is read); forgets every value
        when it moved since last asked."""
        token = self._token()
        if token is not None and token != self._seen:
            self._values.clear()
            self._seen = token
        return token

    def get(self, key: K) -> V | None:
        return self._values.get(key)

    def put(self, key: K, value: V, token: int | None) -> None:
        """Keep `value`, read after `current()` returned `token`, unless the store has
        moved on since (then the value may predate a write)."""
        if token is not None and token != self._seen:
            return
        self._values[key] = value

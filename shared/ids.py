"""Time-ordered identifiers (UUIDv7, RFC 9562) for events and aggregates.

Time order matters: event ids sort by creation time, which keeps Kafka-free replays, SQLite
logs and Mongo `_id` indexes append-mostly.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """Return a UUIDv7: 48-bit unix ms timestamp, 12-bit monotonic counter, random tail."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            # Same (or earlier: clock stepped back) millisecond: keep ids monotonic.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand
    return uuid.UUID(int=value)


def new_id() -> str:
    """A new time-ordered id as its canonical string form."""
    return str(uuid7())

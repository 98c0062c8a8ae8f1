"""Write a value read from elsewhere until a read after the write agrees.

Handlers of different keys run concurrently, and HTTP requests beside them (see
CONTRIBUTING.md). A value derived from other documents (a count, a group's visibility, a
person's choice) read once and then written can be overtaken: another writer reads the
newer value and writes it, and ours lands after. So every writer reads again after its
write and writes again if the value moved. The other side writes its fact before it
reads, so the last write to land always carries a value read after every fact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
_UNSET: Any = object()


async def settle(
    read: Callable[[], Awaitable[T]],
    write: Callable[[T], Awaitable[object]],
    *,
    error: Callable[[], Exception],
    written: T = _UNSET,
    rounds: int = 50,
) -> T:
    """Write `read()` until a read after the write agrees; return the settled value.

    `written`: a value already written (nothing is written while reads agree with it).
    `error`: what to raise when the value still moves after `rounds` writes (the caller
    knows whether that is a retry for the bus, or a 409 for a request).
    """
    for _ in range(rounds):
        now = await read()
        if written is not _UNSET and now == written:
            return now
        await write(now)
        written = now
    raise error()

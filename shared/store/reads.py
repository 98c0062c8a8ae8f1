"""Reads by id for batch consumers: a long `$in` split into bounded pieces.

A batch of 2,000 events can ask about more ids than that (a comment: its post and its
item). MongoDB takes any length, but the test FerretDB pushes a `$in` down to SQLite only
up to 2,000 values (`docs/engines.md`) and reads the whole collection above that; the
embedded store narrows by a `$in` up to `MAX_IN_PARAMS`. Pieces of `IN_CHUNK` ids keep
every read an index lookup on all three.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.store.port import Collection

IN_CHUNK = 2000


async def find_by_ids(
    collection: Collection,
    ids: Iterable[str],
    *,
    projection: list[str] | None = None,
    chunk: int = IN_CHUNK,
) -> dict[str, dict[str, Any]]:
    """The documents with these ids, by id, read `chunk` ids at a time."""
    wanted = sorted(set(ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), chunk):
        piece = wanted[start : start + chunk]
        docs = await collection.find({"_id": {"$in": piece}}, projection=projection)
        found.update((d["_id"], d) for d in docs)
    return found

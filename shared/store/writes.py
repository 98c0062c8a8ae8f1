"""Writes for batch consumers: insert what is new, skip what a redelivery stored before."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection


async def insert_new(collection: Collection, docs: Sequence[dict[str, Any]]) -> list[str]:
    """Insert `docs`; the ids inserted now.

    One bulk insert; an id that exists already (a redelivery) makes it fall back to one
    insert each, which skips those."""
    if not docs:
        return []
    try:
        await collection.insert_many(list(docs))
        return [d["_id"] for d in docs]
    except DuplicateKeyError:
        pass
    inserted = []
    for doc in docs:
        try:
            await collection.insert_one(doc)
            inserted.append(doc["_id"])
        except DuplicateKeyError:
            continue
    return inserted

"""Counters kept on a target document by an idempotent consumer of the write's event.

The target keeps the ids of the last events it applied (`_applied`, capped); the update is
conditional on the event id not being there, so one atomic single-document update applies
a delta exactly once under redelivery, retries and a crash between the write and the
counter update (the event waits in the writer's outbox until it is relayed).
"""

from __future__ import annotations

from typing import Any

from shared.store.port import Collection

APPLIED_FIELD = "_applied"
# Redelivery reaches back a few events, not thousands: this bounds the document's growth.
APPLIED_CAP = 256


async def apply_once(
    collection: Collection, doc_id: str, event_id: str, inc: dict[str, int]
) -> bool:
    """Add `inc` to the counters of `doc_id` unless `event_id` was applied; True if applied.

    A missing target (never created, or purged) is not an error: there is nothing to count.
    """
    deltas = {path: n for path, n in inc.items() if n}
    update: dict[str, Any] = {
        "$push": {APPLIED_FIELD: {"$each": [event_id], "$slice": -APPLIED_CAP}}
    }
    if deltas:
        update["$inc"] = deltas
    result = await collection.update_one({"_id": doc_id, APPLIED_FIELD: {"$ne": event_id}}, update)
    return bool(result.matched_count)


def reaction_deltas(kind: str | None, previous: str | None) -> dict[str, int]:
    """Counter changes when a reaction goes from `previous` to `kind` (None = no reaction)."""
    inc: dict[str, int] = {"counts.reactions": (kind is not None) - (previous is not None)}
    if previous == kind:
        return inc
    if previous is not None:
        inc[f"reactions_by_kind.{previous}"] = -1
    if kind is not None:
        inc[f"reactions_by_kind.{kind}"] = 1
    return inc


def vote_deltas(value: int, previous: int) -> dict[str, int]:
    """Counter changes when a vote goes from `previous` to `value` (0 = no vote)."""
    return {
        "votes.up": (value == 1) - (previous == 1),
        "votes.down": (value == -1) - (previous == -1),
        "votes.score": value - previous,
    }

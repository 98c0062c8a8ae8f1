"""How events are attached to a document write (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.events.envelope import Event

OUTBOX_FIELD = "_outbox"
PENDING_FIELD = "_outbox_pending"
VERSION_FIELD = "_outbox_v"


def insert_with_events(doc: dict[str, Any], events: Sequence[Event]) -> dict[str, Any]:
    """A copy of `doc` carrying `events` in its outbox, ready for `insert_one`."""
    out = dict(doc)
    out[OUTBOX_FIELD] = [e.to_record() for e in events]
    out[PENDING_FIELD] = bool(events)
    out[VERSION_FIELD] = 1
    return out


def update_with_events(update: dict[str, Any], events: Sequence[Event]) -> dict[str, Any]:
    """Merge an outbox append into a Mongo-style update document.

    The version bump lets the relay detect that events were appended while it was publishing
    (its clean-up is a compare-and-swap on the version).
    """
    if not events:
        return update
    out = {op: dict(fields) for op, fields in update.items()}
    for op, field in (("$push", OUTBOX_FIELD), ("$set", PENDING_FIELD), ("$inc", VERSION_FIELD)):
        if field in out.get(op, {}):
            raise ValueError(f"update already touches {field}")
    out.setdefault("$push", {})[OUTBOX_FIELD] = {"$each": [e.to_record() for e in events]}
    out.setdefault("$set", {})[PENDING_FIELD] = True
    out.setdefault("$inc", {})[VERSION_FIELD] = 1
    return out


def strip_outbox(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without its outbox bookkeeping (what a repository hands to the domain)."""
    return {k: v for k, v in doc.items() if k not in (OUTBOX_FIELD, PENDING_FIELD, VERSION_FIELD)}

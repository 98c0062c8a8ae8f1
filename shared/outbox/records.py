"""How events are attached to a document write (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.events.envelope import Event
from shared.ids import new_id

OUTBOX_FIELD = "_outbox"
PENDING_FIELD = "_outbox_pending"
VERSION_FIELD = "_outbox_v"
# Marks an outbox record: a document that exists only to carry events, deleted (not
# rewritten) once they are published.
RECORD_FIELD = "_outbox_record"


def insert_with_events(doc: dict[str, Any], events: Sequence[Event]) -> dict[str, Any]:
    """A copy of `doc` carrying `events` in its outbox, ready for `insert_one`."""
    out = dict(doc)
    out[OUTBOX_FIELD] = [e.to_record() for e in events]
    out[PENDING_FIELD] = bool(events)
    out[VERSION_FIELD] = 1
    return out


def outbox_records(events: Sequence[Event], per_record: int) -> list[dict[str, Any]]:
    """`events` as outbox records of at most `per_record` events each, for `insert_many`.

    For state written in many documents at once (a batch of notifications): one record per
    `per_record` documents is one small insert, where events in the documents themselves
    would cost a rewrite of every document when the relay clears them. The writer inserts
    the records AFTER the state they announce, and must announce again whatever it finds
    already written when it redoes the work (a redelivered event): a crash between the two
    writes then loses nothing, and an event id stored with the state makes the repeat the
    same event, which consumers drop. The relay deletes a record once it is published.

    Each event is stored as its JSON text (`Event.from_record` reads both forms): the test
    FerretDB encodes every nested field with its own type schema, so records of nested
    documents were among the largest costs of a notify batch (written, read by the relay,
    read again to delete); as strings, the engine's ceiling for that batch rose by a third.
    """
    records = []
    for start in range(0, len(events), per_record):
        chunk = events[start : start + per_record]
        records.append(
            {
                "_id": new_id(),
                OUTBOX_FIELD: [e.model_dump_json() for e in chunk],
                PENDING_FIELD: True,
                VERSION_FIELD: 1,
                RECORD_FIELD: True,
            }
        )
    return records


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

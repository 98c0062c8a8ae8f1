"""Transactional outbox without transactions: events ride in the aggregate's own document.

See `docs/architecture.md#outbox`. A write stores the new state and the events it implies in
ONE document write (atomic on SQLite, MongoDB and FerretDB alike); `OutboxRelay` publishes
pending events and then removes them with a compare-and-swap on a version counter. Where
one batch writes many documents, `outbox_records` carries their events in a few records
instead (see its docstring for the order that keeps that safe); the relay deletes those.
"""

from shared.outbox.records import (
    OUTBOX_FIELD,
    PENDING_FIELD,
    VERSION_FIELD,
    insert_with_events,
    outbox_records,
    update_with_events,
)
from shared.outbox.relay import OutboxRelay, RelayStep

__all__ = [
    "OUTBOX_FIELD",
    "PENDING_FIELD",
    "VERSION_FIELD",
    "OutboxRelay",
    "RelayStep",
    "insert_with_events",
    "outbox_records",
    "update_with_events",
]

"""`canteen admin outbox status`: events written but not yet published, per collection.

A pending count that stays up, or an oldest age that keeps growing, means a service's
relay is not running or cannot reach the bus (see its `outbox.*` log events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from canteen.admin.common import console, quiet_settings, run

if TYPE_CHECKING:
    from shared.settings import CanteenSettings
    from shared.store.port import DocumentStore

outbox = typer.Typer(help="The transactional outboxes of the services.", no_args_is_help=True)


def register(admin: typer.Typer) -> None:
    admin.add_typer(outbox, name="outbox")


@dataclass(frozen=True)
class Pending:
    service: str
    collection: str
    documents: int
    events: int
    oldest: datetime | None
    scanned_all: bool


@outbox.command("status")
def status(
    scan: Annotated[
        int, typer.Option(help="pending documents read per collection to find the oldest", min=1)
    ] = 1000,
) -> None:
    """Pending outbox events per service and collection, with the age of the oldest.

    Reads each service's store (run it with the services' CANTEEN_* environment). A healthy
    stack shows zeros, or small numbers that drain within a second. Exit code 0 either way:
    this reports, `canteen admin check` decides readiness.
    """
    settings = quiet_settings()
    rows = run(_collect(settings, scan))
    now = datetime.now(UTC)
    table = Table("service", "collection", "pending docs", "pending events", "oldest age")
    for row in rows:
        age = "-" if row.oldest is None else _age((now - row.oldest).total_seconds())
        if row.oldest is not None and not row.scanned_all:
            age = f">= {age}"
        style = "yellow" if row.documents else None
        table.add_row(
            row.service,
            row.collection,
            str(row.documents),
            str(row.events) if row.scanned_all else f">= {row.events}",
            age,
            style=style,
        )
    console.print(table)
    total = sum(r.documents for r in rows)
    console.print(f"{total} document(s) with unpublished events")


async def _collect(settings: CanteenSettings, scan: int) -> list[Pending]:
    from canteen.allinone import SERVICES, service_builder
    from shared.bus.metrics import BusMetrics
    from shared.http.metrics import new_registry

    rows: list[Pending] = []
    for service in SERVICES:
        # Building a service does no I/O; it tells us its store and outbox collections.
        parts = service_builder(service)(settings, BusMetrics(new_registry()))
        store = parts.runtime.store
        try:
            for collection in parts.runtime.outbox_collections:
                rows.append(await _pending(store, service, collection, scan))
        finally:
            await store.close()
    return rows


async def _pending(store: DocumentStore, service: str, collection: str, scan: int) -> Pending:
    from shared.outbox.records import OUTBOX_FIELD, PENDING_FIELD

    docs = store.collection(collection)
    count = await docs.count({PENDING_FIELD: True})
    if count == 0:
        return Pending(service, collection, 0, 0, None, True)
    sample = await docs.find({PENDING_FIELD: True}, limit=scan, projection=[OUTBOX_FIELD])
    events = [e for d in sample for e in d.get(OUTBOX_FIELD) or []]
    times = [t for e in events if (t := _time(e)) is not None]
    return Pending(
        service, collection, count, len(events), min(times, default=None), len(sample) >= count
    )


def _time(record: dict[str, Any] | str) -> datetime | None:
    if isinstance(record, str):  # an outbox record's event, kept as JSON text
        from pydantic import ValidationError

        from shared.events.envelope import Event

        try:
            return Event.from_record(record).time
        except ValidationError:
            return None
    value = record.get("time")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"

"""A deactivated person's tokens stop working: the projection and the gate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from shared.deactivation import Deactivations
from shared.events.envelope import new_event
from shared.events.schemas.profiles import PersonDeactivated, PersonReactivated
from shared.http.auth.principal import Principal
from shared.store.sqlite import SqliteDocumentStore
from tests.support import ManualClock

ANA = Principal(user_id="ana")


def snapshot(active: bool) -> PersonReactivated:
    return PersonReactivated(id="ana", handle="ana", display_name="Ana", active=active)


async def test_deactivation_closes_the_gate_after_the_cache_expires(tmp_path: Path) -> None:
    store = SqliteDocumentStore(str(tmp_path / "s.sqlite3"))
    clock = ManualClock(100.0)
    gate = Deactivations(store, ttl_seconds=5, clock=clock)
    try:
        assert await gate.allows(ANA)
        await gate.dispatcher(new_event(PersonDeactivated(id="ana")))
        # This process handled it: its cache entry is dropped at once.
        assert not await gate.allows(ANA)
        # Another replica's cache learns within the TTL.
        other = Deactivations(store, ttl_seconds=5, clock=clock)
        await gate.dispatcher(new_event(snapshot(active=True)))
        assert await gate.allows(ANA)
        clock.now += 6
        assert await other.allows(ANA)
        assert await gate.allows(Principal(user_id="ben"))
    finally:
        await store.close()


async def test_a_replayed_older_event_does_not_undo_a_newer_state(tmp_path: Path) -> None:
    store = SqliteDocumentStore(str(tmp_path / "s.sqlite3"))
    gate = Deactivations(store, clock=ManualClock(100.0))
    try:
        older = new_event(PersonDeactivated(id="ana"))
        newer = new_event(snapshot(active=True))
        newer = newer.model_copy(update={"time": older.time + timedelta(seconds=1)})
        await gate.dispatcher(older)
        await gate.dispatcher(newer)
        await gate.dispatcher(older)  # redelivered late
        assert await gate.allows(ANA)
    finally:
        await store.close()

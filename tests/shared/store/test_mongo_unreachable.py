"""A MongoDB-wire server that is down fails writers promptly, not one selection timeout each.

On FerretDB the adapter serialises a process's writes per collection; when the server is
gone, the writers queued behind the first failure fail at once (StoreUnavailable, a 503 at
the API) instead of each waiting out its own server selection in turn. No server needed:
nothing listens on the port.
"""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import OperationFailure

from bench.stack import free_port
from shared.store.errors import StoreError, StoreUnavailable
from shared.store.mongo import MongoDocumentStore
from shared.store.mongo_errors import translated


async def test_writers_queued_behind_an_unreachable_server_fail_at_once() -> None:
    store = MongoDocumentStore(
        f"mongodb://127.0.0.1:{free_port()}/",
        "unreachable",
        serialize_writes=True,
        serverSelectionTimeoutMS=300,
    )
    try:
        notes = store.collection("notes")
        results = await asyncio.gather(
            *(notes.insert_one({"_id": f"n{i}"}) for i in range(8)), return_exceptions=True
        )
    finally:
        await store.close()
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    waited = [r for r in results if "moments ago" not in str(r)]
    # Only the first writer waited for the server; the seven behind it were told at once.
    assert len(waited) == 1, [str(r)[:80] for r in results]


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (1, "[db.go:134 fsql.(*DB).InTransaction] context canceled", StoreUnavailable),
        (
            1,
            "[db.go:167 fsql.(*DB).InTransaction] sql: transaction has already been committed"
            " or rolled back",
            StoreUnavailable,
        ),
        (91, "The server is in quiesce mode and will shut down", StoreUnavailable),
        (11600, "interrupted at shutdown", StoreUnavailable),
        (2, "bad value", StoreError),
    ],
)
def test_a_server_going_away_is_unavailable_not_a_failure(
    code: int, message: str, expected: type[Exception]
) -> None:
    # A write the server cancelled as it stopped did not happen: the API answers 503
    # (retry), not 500. FerretDB says so in an InternalError's message.
    with pytest.raises(expected) as raised, translated():
        raise OperationFailure(message, code=code)
    assert type(raised.value) is expected

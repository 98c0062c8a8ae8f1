"""StoreMemo (shared/store/memo.py): values kept up to a TTL, and never past a write the
store can tell of (the embedded store's change token)."""

from __future__ import annotations

from shared.store.memo import StoreMemo
from shared.store.port import DocumentStore
from tests.support import ManualClock


async def test_a_value_is_kept_for_its_ttl_only(store: DocumentStore) -> None:
    clock = ManualClock()
    memo: StoreMemo[str, int] = StoreMemo(store.change_token, ttl=5.0, maxsize=8, timer=clock)
    token = memo.current()
    memo.put("big", 1, token)

    clock.now = 4.9
    memo.current()
    assert memo.get("big") == 1
    clock.now = 5.1
    memo.current()
    assert memo.get("big") is None


async def test_a_write_forgets_every_value_where_the_store_can_tell(
    store: DocumentStore,
) -> None:
    await store.collection("things").insert_one({"_id": "first"})  # the store exists
    memo: StoreMemo[str, int] = StoreMemo(store.change_token, ttl=60.0, maxsize=8)
    token = memo.current()
    memo.put("a", 1, token)

    await store.collection("things").insert_one({"_id": "x"})

    memo.current()
    if store.change_token() is None:  # MongoDB: only the TTL bounds it
        assert memo.get("a") == 1
    else:
        assert memo.get("a") is None


async def test_a_value_read_before_a_write_someone_else_saw_is_not_kept(
    store: DocumentStore,
) -> None:
    """Read under one token; meanwhile a write, and another request asked (so the memo
    moved on): keeping the older value would outlive the write."""
    await store.collection("things").insert_one({"_id": "first"})  # the store exists
    memo: StoreMemo[str, int] = StoreMemo(store.change_token, ttl=60.0, maxsize=8)
    before = memo.current()
    await store.collection("things").insert_one({"_id": "y"})
    memo.current()  # another request, after the write

    memo.put("a", 1, before)

    expected = 1 if store.change_token() is None else None
    assert memo.get("a") == expected

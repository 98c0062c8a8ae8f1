"""What only the SQLite adapter promises: durability in its file and index-backed plans."""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.store.errors import DuplicateKeyError
from shared.store.sqlite import SqliteDocumentStore
from shared.store.sqlite_change import ChangeWatcher


async def test_documents_and_indexes_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    store = SqliteDocumentStore(path)
    users = store.collection("users")
    await users.create_index([("email", 1)], unique=True)
    await users.insert_one({"_id": "u1", "email": "a@x", "at": datetime(2026, 1, 1, tzinfo=UTC)})
    await store.close()

    reopened = SqliteDocumentStore(path)
    try:
        doc = await reopened.collection("users").find_one({"email": "a@x"})
        assert doc == {"_id": "u1", "email": "a@x", "at": datetime(2026, 1, 1, tzinfo=UTC)}
        ids = await reopened.collection("users").find({}, projection=[])
        assert ids == [{"_id": "u1"}]
    finally:
        await reopened.close()


async def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first, second = SqliteDocumentStore(path), SqliteDocumentStore(path)
    try:
        await first.collection("t").insert_one({"_id": "a", "tags": "x"})
        await second.collection("t").insert_one({"_id": "b", "tags": ["x", "y"]})

        # The array written by the other store must stop `first` from narrowing on `tags`.
        found = await first.collection("t").find({"tags": "x"}, sort=[("_id", 1)])
        assert [d["_id"] for d in found] == ["a", "b"]
    finally:
        await first.close()
        await second.close()


async def test_the_change_token_sees_another_stores_commit_on_the_same_file(
    tmp_path: Path,
) -> None:
    # Another process's write, as far as SQLite can tell: another connection's commit.
    mine, theirs = SqliteDocumentStore(tmp_path / "s.db"), SqliteDocumentStore(tmp_path / "s.db")
    try:
        assert mine.change_token() is None  # no file yet: nothing to cache against
        await mine.collection("things").insert_one({"_id": "a"})
        token = mine.change_token()
        assert token is not None
        await theirs.collection("things").find({})
        assert mine.change_token() == token
        await theirs.collection("things").update_one({"_id": "a"}, {"$set": {"n": 1}})
        assert mine.change_token() not in (None, token)
    finally:
        await mine.close()
        await theirs.close()


@contextmanager
def wal_file(path: Path | str) -> Iterator[tuple[sqlite3.Connection, ChangeWatcher]]:
    """A WAL database with a table `t`: its writing connection and a watcher on it."""
    writer = sqlite3.connect(str(path), isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (n INTEGER)")
    watcher = ChangeWatcher(str(path))
    try:
        yield writer, watcher
    finally:
        watcher.close()
        writer.close()


def test_the_watcher_reads_the_wal_header_and_sees_each_commit_of_another_connection(
    tmp_path: Path,
) -> None:
    with wal_file(tmp_path / "w.db") as (writer, watcher):
        assert watcher.reads_wal_header, "fell back to PRAGMA data_version on a WAL file"
        seen = {watcher.token()}
        for n in range(50):
            before = watcher.token()
            writer.execute("SELECT count(*) FROM t").fetchone()
            assert watcher.token() == before, "a read moved the token"
            writer.execute("INSERT INTO t VALUES (?)", (n,))
            seen.add(watcher.token())
            if n == 25:  # a checkpoint, then a commit that restarts the WAL from its start
                writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert len(seen) == 51, "a commit left the token where an earlier one had it"


def test_the_watcher_sees_a_commit_by_another_process(tmp_path: Path) -> None:
    path = str(tmp_path / "p.db")
    with wal_file(path) as (writer, watcher):
        token = watcher.token()
        insert = (
            f"import sqlite3; c = sqlite3.connect({path!r}, isolation_level=None);"
            " c.execute('INSERT INTO t VALUES (1)')"
        )
        subprocess.run([sys.executable, "-c", insert], check=True, timeout=60)
        assert writer.execute("SELECT count(*) FROM t").fetchone() == (1,)
        moved = watcher.token()
        assert moved not in (None, token)
        writer.execute("SELECT count(*) FROM t").fetchone()
        assert watcher.token() == moved, "a read moved the token"


def test_the_watcher_falls_back_to_data_version_without_wal(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.db")
    writer = sqlite3.connect(path, isolation_level=None)  # rollback journal, no -shm file
    writer.execute("CREATE TABLE t (n INTEGER)")
    watcher = ChangeWatcher(path)
    try:
        assert not watcher.reads_wal_header
        token = watcher.token()
        assert token is not None and watcher.token() == token
        writer.execute("INSERT INTO t VALUES (1)")
        assert watcher.token() not in (None, token)
    finally:
        watcher.close()
        writer.close()


async def test_an_index_created_by_another_store_binds_at_once(tmp_path: Path) -> None:
    # Each store keeps a collection's metadata in memory; the other's change must show.
    path = tmp_path / "shared.db"
    first, second = SqliteDocumentStore(path), SqliteDocumentStore(path)
    try:
        await first.collection("t").insert_one({"_id": "a", "email": "x@example.org"})
        await second.collection("t").create_index([("email", 1)], unique=True)

        with pytest.raises(DuplicateKeyError):
            await first.collection("t").insert_one({"_id": "b", "email": "x@example.org"})
        assert await first.collection("t").count({}) == 1
    finally:
        await first.close()
        await second.close()


async def _plans(store: SqliteDocumentStore, path: Path, calls: list[Any]) -> list[str]:
    """EXPLAIN QUERY PLAN of the SELECT on "posts" that each call makes the adapter run."""
    plans = []
    for call in calls:
        statements: list[str] = []
        await store.run(lambda conn, sink=statements: conn.set_trace_callback(sink.append))
        await call()
        await store.run(lambda conn: conn.set_trace_callback(None))
        [select] = [s for s in statements if s.startswith('SELECT doc FROM "posts"')]
        with sqlite3.connect(path) as conn:
            rows = conn.execute(f"EXPLAIN QUERY PLAN {select}").fetchall()
        plans.append(" | ".join(row[-1] for row in rows))
    return plans


async def test_hot_queries_use_the_indexes(tmp_path: Path) -> None:
    path = tmp_path / "plans.db"
    store = SqliteDocumentStore(path)
    posts = store.collection("posts")
    await posts.create_index([("author", 1)])
    await posts.create_index([("audience", 1), ("created_at", -1), ("_id", -1)], name="feed")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    await posts.insert_one({"_id": "p1", "author": "a", "audience": "org", "created_at": at})

    await posts.create_index([("kind", 1), ("state", 1), ("topics", 1), ("created_at", -1)])
    by_id, by_author, page, ids_and_more = await _plans(
        store,
        path,
        [
            lambda: posts.find_one({"_id": "p1"}),
            lambda: posts.find({"author": "a"}),
            lambda: posts.find(
                {"audience": "org"},
                sort=[("created_at", -1), ("_id", -1)],
                after={"created_at": at, "_id": "p9"},
                limit=20,
            ),
            # Pinned by _id, with fields another index covers: the primary key must win.
            lambda: posts.find(
                {
                    "$and": [
                        {"_id": {"$in": [f"p{i}" for i in range(25)]}},
                        {"kind": "question", "state": "open"},
                    ]
                }
            ),
        ],
    )
    await store.close()

    assert "USING INDEX sqlite_autoindex_posts_1 (_id=?)" in by_id
    assert "USING INDEX posts__author_1 (<expr>=?)" in by_author
    assert "USING INDEX posts__feed (<expr>=? AND <expr><?)" in page
    assert "TEMP B-TREE" not in page
    assert "USING INDEX sqlite_autoindex_posts_1 (_id=?)" in ids_and_more


async def test_find_by_indexed_key_is_fast(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "speed.db")
    users = store.collection("users")
    await users.create_index([("email", 1)], unique=True)
    now = datetime.now(UTC)
    await users.insert_many(
        [
            {"_id": f"u{i}", "email": f"u{i}@x", "at": now - timedelta(seconds=i)}
            for i in range(2000)
        ]
    )
    timings = []
    for i in range(300):
        start = time.perf_counter()
        assert await users.find_one({"email": f"u{i * 5}@x"}) is not None
        timings.append(time.perf_counter() - start)
    await store.close()

    # Generous bound (target 0.5 ms) so a busy CI machine does not flake.
    assert statistics.median(timings) < 0.005

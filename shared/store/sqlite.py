"""SqliteDocumentStore: the embedded default, JSON documents in one SQLite file (WAL).

One connection per store, used from one dedicated thread: operations are serialised in
the process and each runs in its own transaction, so a read-modify-write such as $inc is
atomic. Writes take the database lock up front (BEGIN IMMEDIATE), which also serialises
them with other processes opening the same file (they wait up to `busy_timeout_ms`).

Uniqueness is checked in Python inside that write transaction through the ordinary
index, rather than with a SQLite UNIQUE index, so that it follows the port's rules:
documents missing a key field never collide, arrays collide element by element.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from shared.store.errors import StoreError, StoreUnavailable, UnsupportedOperation
from shared.store.port import DocumentStore
from shared.store.sqlite_change import ChangeWatcher
from shared.store.sqlite_collection import SqliteCollection

T = TypeVar("T")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS _canteen_indexes (
    coll TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, PRIMARY KEY (coll, name));
CREATE TABLE IF NOT EXISTS _canteen_array_paths (
    coll TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (coll, path));
CREATE TABLE IF NOT EXISTS _canteen_meta_generation (
    coll TEXT PRIMARY KEY, generation INTEGER NOT NULL);
"""


class SqliteDocumentStore(DocumentStore):
    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 5000,
        synchronous: str = "NORMAL",
        purge_interval_seconds: float = 60.0,
    ) -> None:
        self._path = str(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self.purge_interval_seconds = purge_interval_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._watcher: ChangeWatcher | None = None
        self._tables: set[str] = set()
        self._collections: dict[str, SqliteCollection] = {}

    def collection(self, name: str) -> SqliteCollection:
        if not _NAME.match(name):
            raise UnsupportedOperation(f"collection name {name!r} is not supported")
        if name not in self._collections:
            self._collections[name] = SqliteCollection(self, name)
        return self._collections[name]

    async def ping(self) -> None:
        await self.run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        def _close(_: sqlite3.Connection) -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._conn is not None:
            await self.run(_close)
        self._executor.shutdown(wait=True)
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def change_token(self) -> int | None:
        # A second connection that never writes watches the file, on the caller's thread:
        # commits by this store's own connection (on its thread) or by another process
        # move the token. It reads the WAL-index header from memory (`ChangeWatcher`).
        if self._watcher is None:
            if not Path(self._path).exists():
                return None  # nothing written yet; the store's first operation creates it
            try:
                self._watcher = ChangeWatcher(self._path)
            except sqlite3.Error:
                return None  # cannot tell: callers then cache nothing
        return self._watcher.token()

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._connection())
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite store {self._path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store {self._path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            # The same bound on every build (distributions raise SQLite's 32,766), so the
            # contract suite proves MAX_IN_PARAMS keeps long `$in`s below it everywhere.
            conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def ensure_table(self, conn: sqlite3.Connection, table: str) -> None:
        if table not in self._tables:
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" (_id TEXT PRIMARY KEY, doc TEXT NOT NULL)'
            )
            self._tables.add(table)

"""SqliteSearchIndex: the embedded default, SQLite FTS5 in one file (WAL).

Per physical index `<alias>-NNNNNN` four tables:
- `"P"`: one row per document id with its external version, a `deleted` flag (versioned
  tombstone), `audience`, the recency date (epoch seconds) and the JSON source;
- `"P__fts"` (FTS5, `porter unicode61 remove_diacritics 2`: English stemming and ASCII
  folding) over the text and typeahead fields, ranked with bm25 column weights;
- `"P__ta"` (FTS5 without stemming, prefix indexes) over the typeahead fields;
- `"P__terms"` (field, value, rid): keyword, number, date and boolean values for
  filters and facets (GROUP BY), so every count is computed in SQL under the audience filter.

Two connections, each used from its own thread: writes are serialised on one (a batch is
one transaction), reads run on the other inside one read transaction each (WAL: a
consistent snapshot, never blocked by the writer). So searches never delay indexing, and
indexing never delays searches.
"""

# Identifiers in SQL text are index and field names checked by IndexSpec's patterns;
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import shared.search.sqlite_query as sqlite_query
from shared.search.errors import IndexNotFound, SearchError, SearchUnavailable
from shared.search.port import (
    Capabilities,
    FilterValue,
    IndexedDoc,
    IndexSpec,
    Rejected,
    SearchIndex,
    SearchRequest,
    SearchResponse,
    Suggestion,
    Tombstone,
    WriteResult,
)
from shared.search.spec_codec import spec_from_json
from shared.search.sqlite_tables import create_physical, drop_physical, put
from shared.search.synonyms import parse_rules
from shared.search.values import InvalidValue, indexed_values

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS search_aliases (alias TEXT PRIMARY KEY, physical TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_physical (
    name TEXT PRIMARY KEY, alias TEXT NOT NULL, seq INTEGER NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_synonyms (name TEXT PRIMARY KEY, rules TEXT NOT NULL);
"""


class SqliteSearchIndex(SearchIndex):
    capabilities = Capabilities(fuzzy=True, recency_in_ranking=True, did_you_mean=False)

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self._path = str(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-search")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-search-read")
        self._conn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None

    # -- plumbing ---------------------------------------------------------------------

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the writer's thread and connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the reader's thread, in one read transaction (one snapshot)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._call_read, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._conn is None:
                self._conn = self._open()
            return fn(self._conn)
        except sqlite3.OperationalError as exc:
            raise _error(exc) from exc

    def _call_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._rconn is None:
                self._rconn = self._open()
            conn = self._rconn
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise _error(exc) from exc

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(_SCHEMA)
        _ensure_math(conn)
        return conn

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        def _close_writer() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        def _close_reader() -> None:
            if self._rconn is not None:
                self._rconn.close()
                self._rconn = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, _close_writer)
        await loop.run_in_executor(self._reader, _close_reader)
        self._executor.shutdown(wait=True)
        self._reader.shutdown(wait=True)

    # -- indexes and aliases ----------------------------------------------------------

    async def ensure(self, spec: IndexSpec) -> None:
        def _ensure(conn: sqlite3.Connection) -> None:
            with _write(conn):
                if _alias_target(conn, spec.alias) is None:
                    physical = create_physical(conn, spec)
                    conn.execute(
                        "INSERT INTO search_aliases (alias, physical) VALUES (?, ?)",
                        (spec.alias, physical),
                    )

        await self.run(_ensure)

    async def create_version(self, spec: IndexSpec) -> str:
        def _create(conn: sqlite3.Connection) -> str:
            with _write(conn):
                return create_physical(conn, spec)

        return await self.run(_create)

    async def swap_alias(self, alias: str, physical: str) -> None:
        def _swap(conn: sqlite3.Connection) -> None:
            with _write(conn):
                row = conn.execute(
                    "SELECT alias FROM search_physical WHERE name = ?", (physical,)
                ).fetchone()
                if row is None or row[0] != alias:
                    raise IndexNotFound(f"{physical!r} is not an index of {alias!r}")
                old = _alias_target(conn, alias)
                conn.execute(
                    "INSERT INTO search_aliases (alias, physical) VALUES (?, ?) "
                    "ON CONFLICT (alias) DO UPDATE SET physical = excluded.physical",
                    (alias, physical),
                )
                if old is not None and old != physical:
                    drop_physical(conn, old)

        await self.run(_swap)

    async def drop(self, alias: str) -> None:
        def _drop(conn: sqlite3.Connection) -> None:
            with _write(conn):
                names = conn.execute(
                    "SELECT name FROM search_physical WHERE alias = ?", (alias,)
                ).fetchall()
                for (name,) in names:
                    drop_physical(conn, name)
                conn.execute("DELETE FROM search_aliases WHERE alias = ?", (alias,))

        await self.run(_drop)

    async def refresh(self, index: str) -> None:
        await self.run(lambda conn: _resolve(conn, index))  # writes are visible at commit

    # -- writes -----------------------------------------------------------------------

    async def upsert(self, index: str, docs: Sequence[IndexedDoc]) -> WriteResult:
        def _upsert(conn: sqlite3.Connection) -> WriteResult:
            with _write(conn):
                physical, spec = _resolve(conn, index)
                applied = stale = 0
                rejected: list[Rejected] = []
                for doc in docs:
                    try:
                        values = indexed_values(spec, doc.body)
                    except InvalidValue as exc:
                        rejected.append(Rejected(doc.id, str(exc)))
                        continue
                    if put(conn, physical, spec, doc.id, doc.version, doc.body, values):
                        applied += 1
                    else:
                        stale += 1
                return WriteResult(applied, stale, tuple(rejected))

        return await self.run(_upsert)

    async def delete(self, index: str, tombstones: Sequence[Tombstone]) -> WriteResult:
        def _delete(conn: sqlite3.Connection) -> WriteResult:
            with _write(conn):
                physical, spec = _resolve(conn, index)
                applied = sum(
                    put(conn, physical, spec, t.id, t.version, None, None) for t in tombstones
                )
                return WriteResult(applied, len(tombstones) - applied)

        return await self.run(_delete)

    async def update_synonyms(self, name: str, rules: Sequence[str]) -> None:
        parse_rules(rules)  # refuse malformed rules before storing them
        if not rules:
            await self.run(
                lambda conn: conn.execute("DELETE FROM search_synonyms WHERE name = ?", (name,))
            )
            return
        await self.run(
            lambda conn: conn.execute(
                "INSERT INTO search_synonyms (name, rules) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET rules = excluded.rules",
                (name, json.dumps(list(rules))),
            )
        )

    # -- reads ------------------------------------------------------------------------

    async def search(self, alias: str, request: SearchRequest) -> SearchResponse:
        def _search(conn: sqlite3.Connection) -> SearchResponse:
            physical, spec = _resolve(conn, alias)
            synonyms = _synonyms(conn, spec)
            return sqlite_query.search(conn, physical, spec, request, synonyms)

        return await self.read(_search)

    async def suggest(
        self,
        alias: str,
        prefix: str,
        *,
        audiences: Sequence[str],
        filters: Mapping[str, Sequence[FilterValue]] | None = None,
        limit: int = 10,
    ) -> list[Suggestion]:
        def _suggest(conn: sqlite3.Connection) -> list[Suggestion]:
            physical, spec = _resolve(conn, alias)
            return sqlite_query.suggest(
                conn, physical, spec, prefix, audiences, filters or {}, limit
            )

        return await self.read(_suggest)

    async def count(self, alias: str, *, audiences: Sequence[str] | None = None) -> int:
        def _count(conn: sqlite3.Connection) -> int:
            physical, _ = _resolve(conn, alias)
            sql = f'SELECT COUNT(*) FROM "{physical}" WHERE deleted = 0'
            params: list[str] = []
            if audiences is not None:
                sql += f" AND audience IN ({','.join('?' * len(audiences))})"
                params = list(audiences)
                if not audiences:
                    return 0
            return int(conn.execute(sql, params).fetchone()[0])

        return await self.read(_count)


# -- helpers (run on the index thread) -------------------------------------------------


def _error(exc: sqlite3.OperationalError) -> SearchError:
    if "locked" in str(exc) or "unable to open" in str(exc):
        return SearchUnavailable(str(exc))
    return SearchError(str(exc))


class _write:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _ensure_math(conn: sqlite3.Connection) -> None:
    """Ranking uses pow() and log10(); builds without SQLite's math functions get Python's."""
    try:
        conn.execute("SELECT pow(2, 2), log10(2)").fetchone()
    except sqlite3.OperationalError:
        conn.create_function("pow", 2, math.pow, deterministic=True)
        conn.create_function("log10", 1, math.log10, deterministic=True)


def _alias_target(conn: sqlite3.Connection, alias: str) -> str | None:
    row = conn.execute("SELECT physical FROM search_aliases WHERE alias = ?", (alias,)).fetchone()
    return None if row is None else str(row[0])


def _resolve(conn: sqlite3.Connection, index: str) -> tuple[str, IndexSpec]:
    physical = _alias_target(conn, index) or index
    row = conn.execute("SELECT spec FROM search_physical WHERE name = ?", (physical,)).fetchone()
    if row is None:
        raise IndexNotFound(f"no search index {index!r}")
    return physical, spec_from_json(row[0])


def _synonyms(conn: sqlite3.Connection, spec: IndexSpec) -> dict[str, tuple[str, ...]]:
    if spec.synonyms is None:
        return {}
    row = conn.execute(
        "SELECT rules FROM search_synonyms WHERE name = ?", (spec.synonyms,)
    ).fetchone()
    return {} if row is None else parse_rules(json.loads(row[0]))

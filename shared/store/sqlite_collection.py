"""SqliteCollection: one collection as a table of JSON documents (`_id`, `doc`).

Each operation decides with what it must know about the collection (array-holding paths,
unique and expiring indexes) as of its own transaction's snapshot, so several processes
sharing the file always decide with the same snapshot as the data. That metadata is kept
in memory with its generation: every change to it bumps a per-collection counter in the
same transaction, and an operation reads only that counter unless it moved (one indexed
read instead of two queries and a JSON parse per index on every operation).
"""

# Collection names are checked by SqliteDocumentStore.collection, index names are
# reduced to [A-Za-z0-9_] and field paths pass query.validate_path before they reach
# SQL text; values always travel as parameters.
# ruff: noqa: S608

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from shared.store import match, query
from shared.store import sqlite_sql as sql
from shared.store.errors import DuplicateKeyError, StoreError, UnsupportedOperation
from shared.store.port import (
    Collection,
    Document,
    Filter,
    IndexKeys,
    Sort,
    Update,
    UpdateResult,
)
from shared.store.update import apply_update, set_path

if TYPE_CHECKING:
    from shared.store.sqlite import SqliteDocumentStore

T = TypeVar("T")


@dataclass
class _Meta:
    """What a collection's operations must know, read in the operation's own snapshot."""

    array_paths: set[str] = field(default_factory=set)
    unique: list[tuple[str, list[str]]] = field(default_factory=list)
    ttl: list[tuple[str, int]] = field(default_factory=list)


@contextmanager
def _transaction(conn: sqlite3.Connection, *, write: bool) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """A nested transaction: undo one statement's writes, keep the enclosing ones."""
    conn.execute("SAVEPOINT one")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO one")
        conn.execute("RELEASE one")
        raise
    conn.execute("RELEASE one")


class SqliteCollection(Collection):
    def __init__(self, store: SqliteDocumentStore, name: str) -> None:
        self.name = name
        self._store = store
        self._last_purge = time.monotonic()
        # (generation, metadata) as last read; only the store's one thread touches it.
        self._cached_meta: tuple[int, _Meta] | None = None

    # -- plumbing ------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection, _Meta], T]) -> T:
        def op(conn: sqlite3.Connection) -> T:
            self._store.ensure_table(conn, self.name)
            with _transaction(conn, write=False):
                return fn(conn, self._meta(conn))

        return await self._store.run(op)

    async def _write(self, fn: Callable[[sqlite3.Connection, _Meta], T]) -> T:
        if time.monotonic() - self._last_purge > self._store.purge_interval_seconds:
            await self.purge_expired()

        def op(conn: sqlite3.Connection) -> T:
            self._store.ensure_table(conn, self.name)
            try:
                with _transaction(conn, write=True):
                    return fn(conn, self._meta(conn))
            except BaseException:
                # A rolled-back write may have noted an array path that was never stored.
                self._cached_meta = None
                raise

        return await self._store.run(op)

    def _meta(self, conn: sqlite3.Connection) -> _Meta:
        row = conn.execute(
            "SELECT generation FROM _canteen_meta_generation WHERE coll=?", (self.name,)
        ).fetchone()
        generation = row[0] if row else 0
        if self._cached_meta is not None and self._cached_meta[0] == generation:
            return self._cached_meta[1]
        meta = self._read_meta(conn)
        self._cached_meta = (generation, meta)
        return meta

    def _meta_changed(self, conn: sqlite3.Connection) -> None:
        """Bump the generation in the caller's write transaction; the cache is re-read."""
        conn.execute(
            "INSERT INTO _canteen_meta_generation (coll, generation) VALUES (?, 1)"
            " ON CONFLICT (coll) DO UPDATE SET generation = generation + 1",
            (self.name,),
        )
        self._cached_meta = None

    def _read_meta(self, conn: sqlite3.Connection) -> _Meta:
        meta = _Meta()
        rows = conn.execute("SELECT path FROM _canteen_array_paths WHERE coll=?", (self.name,))
        meta.array_paths = {path for (path,) in rows}
        for name, spec_text in conn.execute(
            "SELECT name, spec FROM _canteen_indexes WHERE coll=?", (self.name,)
        ):
            spec = json.loads(spec_text)
            if spec["unique"]:
                meta.unique.append((name, spec["fields"]))
            if spec["expire_after_seconds"] is not None:
                meta.ttl.append((spec["fields"][0], spec["expire_after_seconds"]))
        return meta

    def _select(
        self,
        conn: sqlite3.Connection,
        meta: _Meta,
        filter: Filter,
        *,
        sort: Sort | None = None,
        after: dict[str, Any] | None = None,
    ) -> Iterator[Document]:
        """Matching live documents in sort order, decided in Python on SQL candidates."""
        clauses, params = sql.narrow(filter, meta.array_paths)
        decide = filter
        if after is not None:
            decide = {"$and": [filter, query.keyset_filter(sort, after)]}
        sql_sortable = sort is not None and not any(
            sql.is_array_path(f, meta.array_paths) for f, _ in sort
        )
        if after is not None and sql_sortable and sort is not None:
            keyset = sql.keyset_sql(sort, after)
            if keyset:
                clauses.append(keyset[0])
                params += keyset[1]
        text = f'SELECT doc FROM "{self.name}" WHERE {" AND ".join(clauses) or "1"}'
        if sort is not None and sql_sortable:
            text += f" ORDER BY {sql.order_sql(sort)}"
        now = datetime.now(UTC)
        docs = (sql.decode(row[0]) for row in conn.execute(text, params))
        live = (
            d
            for d in docs
            if not (meta.ttl and match.is_expired(d, meta.ttl, now)) and match.matches(d, decide)
        )
        if sort is not None and not sql_sortable:
            # SQL cannot order by a path holding arrays; MongoDB's rules are applied here.
            yield from match.sort_documents(list(live), sort)
        else:
            yield from live

    def _store_doc(
        self, conn: sqlite3.Connection, meta: _Meta, doc: Document, *, new: bool
    ) -> None:
        self._check_unique(conn, meta, doc)
        text = sql.encode(doc)
        if new:
            try:
                conn.execute(
                    f'INSERT INTO "{self.name}" (_id, doc) VALUES (?, ?)', (doc["_id"], text)
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError(
                    f"duplicate key in {self.name} index _id_: {{_id: {doc['_id']!r}}}"
                ) from exc
        else:
            conn.execute(f'UPDATE "{self.name}" SET doc=? WHERE _id=?', (text, doc["_id"]))
        for path in sql.array_paths_of(doc):
            if path not in meta.array_paths:
                conn.execute(
                    "INSERT OR IGNORE INTO _canteen_array_paths (coll, path) VALUES (?, ?)",
                    (self.name, path),
                )
                self._meta_changed(conn)
                meta.array_paths.add(path)

    def _check_unique(self, conn: sqlite3.Connection, meta: _Meta, doc: Document) -> None:
        for name, fields in meta.unique:
            values = [match.get_path(doc, f) for f in fields]
            if any(v is match.MISSING for v in values):
                continue
            clash: Filter = {"_id": {"$ne": doc["_id"]}}
            for f, v in zip(fields, values, strict=True):
                clash[f] = (
                    {"$exists": True, "$in": v}
                    if isinstance(v, list)
                    else {"$exists": True, "$eq": v}
                )
            if next(self._select(conn, meta, clash), None) is not None:
                keys = ", ".join(f"{f}: {v!r}" for f, v in zip(fields, values, strict=True))
                raise DuplicateKeyError(f"duplicate key in {self.name} index {name}: {{{keys}}}")

    # -- port ----------------------------------------------------------------------

    async def insert_one(self, doc: Document) -> None:
        await self.insert_many([doc])

    async def insert_many(self, docs: list[Document]) -> None:
        clean = [query.normalize_document(d) for d in docs]

        def op(conn: sqlite3.Connection, meta: _Meta) -> DuplicateKeyError | None:
            for doc in clean:
                try:
                    self._insert_purging(conn, meta, doc)
                except DuplicateKeyError as exc:
                    return exc  # committed: the documents before it stay, as in MongoDB
            return None

        error = await self._write(op)
        if error is not None:
            raise error

    def _insert_purging(self, conn: sqlite3.Connection, meta: _Meta, doc: Document) -> None:
        try:
            self._store_doc(conn, meta, doc, new=True)
        except DuplicateKeyError:
            # An expired but unpurged document must not block its successor.
            if not meta.ttl or not self._purge(conn, meta):
                raise
            self._store_doc(conn, meta, doc, new=True)

    async def find_one(self, filter: Filter, *, sort: Sort | None = None) -> Document | None:
        found = await self.find(filter, sort=sort, limit=1)
        return found[0] if found else None

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        limit: int | None = None,
        skip: int = 0,
        after: dict[str, Any] | None = None,
        projection: list[str] | None = None,
    ) -> list[Document]:
        filter = query.validate_filter(filter)
        sort = query.validate_sort(sort)
        if after is not None:
            after = query.normalize_value(after)
            query.keyset_filter(sort, after or {})
        fields = [query.validate_path(p) for p in projection] if projection is not None else None

        def op(conn: sqlite3.Connection, meta: _Meta) -> list[Document]:
            out: list[Document] = []
            for i, doc in enumerate(self._select(conn, meta, filter, sort=sort, after=after)):
                if limit is not None and len(out) >= limit:
                    break
                if i >= skip:
                    out.append(doc)
            match.check_sort_values(out, sort)
            return [match.project(d, fields) for d in out] if fields is not None else out

        return await self._read(op)

    async def count(self, filter: Filter | None = None) -> int:
        clean = query.validate_filter(filter or {})
        return await self._read(lambda conn, meta: sum(1 for _ in self._select(conn, meta, clean)))

    async def update_one(
        self, filter: Filter, update: Update, *, upsert: bool = False
    ) -> UpdateResult:
        result, _, _ = await self._update(filter, update, upsert=upsert, many=False)
        return result

    async def update_many(self, filter: Filter, update: Update) -> UpdateResult:
        result, _, _ = await self._update(filter, update, upsert=False, many=True)
        return result

    async def update_each(self, updates: list[tuple[Filter, Update]]) -> int:
        checked = [(query.validate_filter(f), query.validate_update(u)) for f, u in updates]

        def op(conn: sqlite3.Connection, meta: _Meta) -> tuple[int, Exception | None]:
            matched = 0
            for f, u in checked:
                try:
                    with _savepoint(conn):
                        result, _, _ = self._update_in(conn, meta, f, u, upsert=False, many=False)
                except DuplicateKeyError as exc:
                    # MongoDB's ordered bulk write keeps what came before the failing one;
                    # the undone one may have noted an array path that was never stored.
                    self._cached_meta = None
                    return matched, exc
                matched += result.matched_count
            return matched, None

        if not checked:
            return 0
        matched, error = await self._write(op)
        if error is not None:
            raise error
        return matched

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Update,
        *,
        upsert: bool = False,
        return_new: bool = True,
        sort: Sort | None = None,
    ) -> Document | None:
        _, before, after = await self._update(filter, update, upsert=upsert, many=False, sort=sort)
        return after if return_new else before

    async def _update(
        self,
        filter: Filter,
        update: Update,
        *,
        upsert: bool,
        many: bool,
        sort: Sort | None = None,
    ) -> tuple[UpdateResult, Document | None, Document | None]:
        filter = query.validate_filter(filter)
        update = query.validate_update(update)
        sort = query.validate_sort(sort)
        return await self._write(
            lambda conn, meta: self._update_in(
                conn, meta, filter, update, upsert=upsert, many=many, sort=sort
            )
        )

    def _update_in(
        self,
        conn: sqlite3.Connection,
        meta: _Meta,
        filter: Filter,
        update: Update,
        *,
        upsert: bool,
        many: bool,
        sort: Sort | None = None,
    ) -> tuple[UpdateResult, Document | None, Document | None]:
        """One validated update inside the caller's transaction."""
        matched = modified = 0
        before = after = None
        found = list(islice(self._select(conn, meta, filter, sort=sort), None if many else 1))
        match.check_sort_values(found[:1], sort)
        for doc in found if many else found[:1]:
            new = apply_update(doc, update)
            matched += 1
            if not match.bson_eq(new, doc):
                self._store_doc(conn, meta, new, new=False)
                modified += 1
            before, after = doc, new
        if matched or not upsert:
            return UpdateResult(matched, modified), before, after
        seed: Document = {}
        for path, value in query.upsert_seed(filter).items():
            set_path(seed, path, value)
        doc = apply_update(seed, update, inserting=True)
        doc.setdefault("_id", uuid.uuid4().hex)
        doc = {"_id": doc.pop("_id"), **doc}
        self._insert_purging(conn, meta, query.normalize_document(doc))
        return UpdateResult(0, 0, doc["_id"]), None, doc

    async def delete_one(self, filter: Filter) -> int:
        return await self._delete(filter, many=False)

    async def delete_many(self, filter: Filter) -> int:
        return await self._delete(filter, many=True)

    async def _delete(self, filter: Filter, *, many: bool) -> int:
        clean = query.validate_filter(filter)

        def op(conn: sqlite3.Connection, meta: _Meta) -> int:
            found = islice(self._select(conn, meta, clean), None if many else 1)
            ids = [d["_id"] for d in found]
            conn.executemany(f'DELETE FROM "{self.name}" WHERE _id=?', [(i,) for i in ids])
            return len(ids)

        return await self._write(op)

    async def create_index(
        self,
        keys: IndexKeys,
        *,
        unique: bool = False,
        name: str | None = None,
        expire_after_seconds: int | None = None,
    ) -> None:
        fields = [query.validate_path(f) for f, _ in keys]
        if not keys or any(d not in (1, -1) for _, d in keys):
            raise UnsupportedOperation(f"index keys {keys!r} are not supported")
        if expire_after_seconds is not None and len(keys) != 1:
            raise UnsupportedOperation("an expiring index must have exactly one field")
        index_name = name or "_".join(f"{f}_{d}" for f, d in keys)
        spec = json.dumps(
            {"fields": fields, "unique": unique, "expire_after_seconds": expire_after_seconds}
        )
        columns = ", ".join(f"{sql.key_sql(f)} {'ASC' if d == 1 else 'DESC'}" for f, d in keys)
        table_index = re.sub(r"[^A-Za-z0-9_]", "_", f"{self.name}__{index_name}")

        def op(conn: sqlite3.Connection, meta: _Meta) -> None:
            row = conn.execute(
                "SELECT spec FROM _canteen_indexes WHERE coll=? AND name=?", (self.name, index_name)
            ).fetchone()
            if row is not None and row[0] != spec:
                raise StoreError(f"index {index_name} exists on {self.name} with other options")
            if unique and row is None:
                self._check_existing_unique(conn, meta, index_name, fields)
            if row is None:
                conn.execute(
                    "INSERT INTO _canteen_indexes (coll, name, spec) VALUES (?, ?, ?)",
                    (self.name, index_name, spec),
                )
                self._meta_changed(conn)
            conn.execute(f'CREATE INDEX IF NOT EXISTS "{table_index}" ON "{self.name}" ({columns})')

        await self._write(op)

    def _check_existing_unique(
        self, conn: sqlite3.Connection, meta: _Meta, name: str, fields: list[str]
    ) -> None:
        probe = _Meta(meta.array_paths, [(name, fields)], meta.ttl)
        for doc in list(self._select(conn, meta, {})):
            self._check_unique(conn, probe, doc)

    async def purge_expired(self) -> int:
        self._last_purge = time.monotonic()

        def op(conn: sqlite3.Connection) -> int:
            self._store.ensure_table(conn, self.name)
            with _transaction(conn, write=True):
                return self._purge(conn, self._meta(conn))

        return await self._store.run(op)

    def _purge(self, conn: sqlite3.Connection, meta: _Meta) -> int:
        if not meta.ttl:
            return 0
        now = datetime.now(UTC)
        rows = conn.execute(f'SELECT _id, doc FROM "{self.name}"')
        expired = [(i,) for i, text in rows if match.is_expired(sql.decode(text), meta.ttl, now)]
        conn.executemany(f'DELETE FROM "{self.name}" WHERE _id=?', expired)
        return len(expired)

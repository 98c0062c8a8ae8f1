"""Tables of one SqliteSearchIndex physical index: creating, dropping, writing documents.

Runs on the index thread inside the caller's transaction (see shared.search.sqlite).
"""

# Identifiers in SQL text are index and field names checked by IndexSpec's patterns;
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from shared.search.port import FieldSpec, IndexSpec
from shared.search.spec_codec import spec_to_json
from shared.search.values import check_audience, jsonable


def create_physical(conn: sqlite3.Connection, spec: IndexSpec) -> str:
    row = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM search_physical WHERE alias = ?", (spec.alias,)
    ).fetchone()
    seq = int(row[0]) + 1
    p = f"{spec.alias}-{seq:06d}"
    text_cols = _columns(spec.of_type("text", "typeahead"))
    conn.execute(
        f'CREATE TABLE "{p}" (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, '
        "version INTEGER NOT NULL, deleted INTEGER NOT NULL, audience TEXT, recency REAL, "
        "source TEXT)"
    )
    conn.execute(f'CREATE INDEX "{p}__audience" ON "{p}" (audience, deleted)')
    conn.execute(
        f'CREATE VIRTUAL TABLE "{p}__fts" USING fts5({text_cols}, '
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.execute(f'CREATE VIRTUAL TABLE "{p}__vocab" USING fts5vocab("{p}__fts", \'row\')')
    if typeahead := spec.of_type("typeahead"):
        conn.execute(
            f'CREATE VIRTUAL TABLE "{p}__ta" USING fts5({_columns(typeahead)}, '
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3')"
        )
    conn.execute(
        f'CREATE TABLE "{p}__terms" (field TEXT NOT NULL, value, rid INTEGER NOT NULL, '
        "PRIMARY KEY (field, value, rid)) WITHOUT ROWID"
    )
    conn.execute(f'CREATE INDEX "{p}__terms_rid" ON "{p}__terms" (rid, field)')
    conn.execute(
        "INSERT INTO search_physical (name, alias, seq, spec) VALUES (?, ?, ?, ?)",
        (p, spec.alias, seq, spec_to_json(spec)),
    )
    return p


def drop_physical(conn: sqlite3.Connection, p: str) -> None:
    for suffix in ("__vocab", "", "__fts", "__ta", "__terms"):
        conn.execute(f'DROP TABLE IF EXISTS "{p}{suffix}"')
    conn.execute("DELETE FROM search_physical WHERE name = ?", (p,))


def put(
    conn: sqlite3.Connection,
    p: str,
    spec: IndexSpec,
    doc_id: str,
    version: int,
    body: Mapping[str, Any] | None,
    values: dict[str, list[Any]] | None,
) -> bool:
    """Write a document (or a tombstone when body is None) unless a newer version is stored."""
    row = conn.execute(f'SELECT rid, version FROM "{p}" WHERE id = ?', (doc_id,)).fetchone()
    if row is not None and row[1] >= version:
        return False
    deleted = body is None or values is None
    recency = None
    if not deleted and values is not None and spec.recency_field is not None:
        recency = next(iter(values[spec.recency_field]), None)
    params = (
        version,
        int(deleted),
        None if body is None else check_audience(body),
        recency,
        None if body is None else json.dumps(jsonable(body)),
    )
    if row is None:
        rid = conn.execute(
            f'INSERT INTO "{p}" (id, version, deleted, audience, recency, source) '
            "VALUES (?, ?, ?, ?, ?, ?)",
            (doc_id, *params),
        ).lastrowid
        assert rid is not None
    else:
        rid = row[0]
        conn.execute(
            f'UPDATE "{p}" SET version = ?, deleted = ?, audience = ?, recency = ?, '
            "source = ? WHERE rid = ?",
            (*params, rid),
        )
        _unindex(conn, p, spec, rid)
    if values is not None:
        _index(conn, p, spec, rid, values)
    return True


def _unindex(conn: sqlite3.Connection, p: str, spec: IndexSpec, rid: int) -> None:
    conn.execute(f'DELETE FROM "{p}__fts" WHERE rowid = ?', (rid,))
    if spec.of_type("typeahead"):
        conn.execute(f'DELETE FROM "{p}__ta" WHERE rowid = ?', (rid,))
    conn.execute(f'DELETE FROM "{p}__terms" WHERE rid = ?', (rid,))


def _columns(fields: Sequence[FieldSpec]) -> str:
    return ", ".join(f'"{f.name}"' for f in fields)


def _index(
    conn: sqlite3.Connection, p: str, spec: IndexSpec, rid: int, values: dict[str, list[Any]]
) -> None:
    for table, fields in (
        ("fts", spec.of_type("text", "typeahead")),
        ("ta", spec.of_type("typeahead")),
    ):
        if fields:
            conn.execute(
                f'INSERT INTO "{p}__{table}" (rowid, {_columns(fields)}) '
                f"VALUES (?{', ?' * len(fields)})",
                (rid, *("\n".join(values[f.name]) for f in fields)),
            )
    rows = [
        (f.name, value, rid)
        for f in spec.of_type("keyword", "number", "date", "boolean")
        for value in set(values[f.name])
    ]
    conn.executemany(f'INSERT INTO "{p}__terms" (field, value, rid) VALUES (?, ?, ?)', rows)

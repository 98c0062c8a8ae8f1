"""SQL for the SQLite adapter: the stored JSON encoding, index keys and candidate narrowing.

Every indexed or sorted field is read through `key_sql`, one CASE expression that maps
a JSON value to a SQLite value ordered exactly as MongoDB orders BSON values of the
subset: null/missing < numbers < strings < documents < arrays < booleans < dates.
SQLite orders NULL < numbers < TEXT < BLOB, so numbers and strings stay themselves and
the later ranks become BLOBs with a rank byte in front. Because indexes are built on
the same expression, equality and range narrowing and ORDER BY use them.

Narrowing only ever selects a superset of the matches: the adapter decides each
candidate with shared.store.match. A path that has ever held an array (recorded per
collection on write) is never narrowed, since an array matches by membership.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from shared.store.port import Document, Filter, Sort

_BOOL, _DATE = 0x06, 0x07
# (lower, upper) bounds of each comparable type's block of keys; None = no bound needed.
_BRACKETS: dict[type, tuple[Any, Any]] = {
    int: (None, ""),
    float: (None, ""),
    str: ("", b""),
    bool: (bytes([_BOOL]), bytes([_BOOL + 1])),
    datetime: (bytes([_DATE]), bytes([_DATE + 1])),
}

# SQLite binds at most 32,766 values per statement (SQLITE_MAX_VARIABLE_NUMBER in the
# builds of 3.32+; some distributions raise it). A longer `$in` narrows nothing: SQLite
# reads more rows and the matcher filters them, rather than the statement failing.
MAX_IN_PARAMS = 30_000


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _encode_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$date": _iso(value)}
    raise TypeError(f"cannot store {type(value).__name__}")


def _decode_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$date" in obj:
        return datetime.fromisoformat(obj["$date"].replace("Z", "+00:00"))
    return obj


def encode(doc: Document) -> str:
    return json.dumps(doc, default=_encode_default, ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> Document:
    doc: Document = json.loads(text, object_hook=_decode_hook)
    return doc


def _json_path(path: str) -> str:
    # query.validate_path guarantees plain-name segments: safe inside a SQL literal.
    return "$" + "".join(f'."{part}"' for part in path.split("."))


def key_sql(path: str) -> str:
    if path == "_id":
        return "_id"
    p = _json_path(path)
    value = f"json_extract(doc,'{p}')"
    date = f"json_extract(doc,'{p}.\"$date\"')"
    return (
        f"(CASE json_type(doc,'{p}') WHEN 'text' THEN {value} WHEN 'integer' THEN {value} "
        f"WHEN 'real' THEN {value} WHEN 'true' THEN x'0601' WHEN 'false' THEN x'0600' "
        f"WHEN 'object' THEN coalesce(CAST(x'07'||{date} AS BLOB),x'04') "
        f"WHEN 'array' THEN x'05' END)"
    )


def key_param(value: Any) -> Any:
    """The SQL value `key_sql` yields for a scalar; None when not narrowable."""
    if isinstance(value, bool):
        return bytes([_BOOL, int(value)])
    if isinstance(value, datetime):
        return bytes([_DATE]) + _iso(value).encode()
    if isinstance(value, int | float | str):
        return value
    return None


def is_array_path(path: str, array_paths: set[str]) -> bool:
    parts = path.split(".")
    return any(".".join(parts[: i + 1]) in array_paths for i in range(len(parts)))


def array_paths_of(value: Any, prefix: str = "") -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(item, list):
                yield path
            else:
                yield from array_paths_of(item, path)


def narrow(filter: Filter, array_paths: set[str]) -> tuple[list[str], list[Any]]:
    """SQL conditions (ANDed) selecting a superset of the documents matching `filter`.

    When the filter pins `_id` (equality or `$in`, ANDed at the top), that condition alone
    is kept: the primary key finds those few rows, and any other condition offered to
    SQLite's planner (which has no statistics) may make it walk an index on those fields
    instead, reading every row they match (`_id IN (21 ids)` and kind/state chose the
    kind/state index and read every open question).
    """
    for key, value in _top_level_terms(filter):
        if key == "_id":
            is_ops = isinstance(value, dict) and value and next(iter(value)).startswith("$")
            for op, operand in value.items() if is_ops else [("$eq", value)]:
                if op in ("$eq", "$in"):
                    condition = _condition("_id", op, operand)
                    if condition:
                        return [condition[0]], condition[1]
    clauses, params = _narrow(filter, array_paths)
    if len(params) > MAX_IN_PARAMS:  # several long `$in`s together: read more, not fail
        return [], []
    return clauses, params


def _top_level_terms(filter: Filter) -> Iterator[tuple[str, Any]]:
    """(field, condition) pairs ANDed at the top of `filter`, through nested `$and`."""
    for key, value in filter.items():
        if key == "$and":
            for clause in value:
                yield from _top_level_terms(clause)
        elif key != "$or":
            yield key, value


def _narrow(filter: Filter, array_paths: set[str]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in filter.items():
        if key == "$and":
            for clause in value:
                sub, sub_params = _narrow(clause, array_paths)
                clauses += sub
                params += sub_params
        elif key == "$or":
            branches = [_narrow(clause, array_paths) for clause in value]
            if all(sub for sub, _ in branches):
                # Bracketed: `A AND (x OR y) AND C`, or SQLite reads `(A AND x) OR (y AND C)`.
                clauses.append(
                    "(" + " OR ".join(f"({' AND '.join(sub)})" for sub, _ in branches) + ")"
                )
                params += [p for _, sub_params in branches for p in sub_params]
        else:
            is_ops = isinstance(value, dict) and value and next(iter(value)).startswith("$")
            conditions = value.items() if is_ops else [("$eq", value)]
            if not is_array_path(key, array_paths):
                found = [_condition(key_sql(key), op, operand) for op, operand in conditions]
            elif _holds_arrays_itself(key, array_paths):
                found = [_membership(key, op, operand) for op, operand in conditions]
            else:
                found = []  # a path through an array of embedded documents
            for condition in found:
                if condition:
                    clauses.append(condition[0])
                    params += condition[1]
    return clauses, params


def _holds_arrays_itself(path: str, array_paths: set[str]) -> bool:
    """`path` holds arrays in some document, and no path above it does."""
    parent = path.rpartition(".")[0]
    return path in array_paths and not (parent and is_array_path(parent, array_paths))


def _membership(key: str, op: str, operand: Any) -> tuple[str, list[Any]] | None:
    """Strings equal to, or among, `operand` at a path holding an array or a scalar.

    Decided in SQLite's C code (`json_each`), where the expression indexes cannot help, so
    a filter such as `topics: {$in: [...]}` no longer decodes every row it rejects. Only
    string operands: a JSON text element is exactly a string, nothing else compares equal.
    """
    if op == "$eq" and isinstance(operand, str):
        values = [operand]
    elif op == "$in" and operand and all(isinstance(v, str) for v in operand):
        values = list(operand)
    else:
        return None
    # The path passed query.validate_path (see _json_path); values travel as parameters.
    p = _json_path(key)
    marks = ",".join("?" * len(values))
    return (
        f"(CASE json_type(doc,'{p}') WHEN 'array' THEN EXISTS (SELECT 1 FROM "  # noqa: S608
        f"json_each(doc,'{p}') WHERE type = 'text' AND value IN ({marks})) "
        f"WHEN 'text' THEN json_extract(doc,'{p}') IN ({marks}) ELSE 0 END)",
        values + values,
    )


def _condition(key: str, op: str, operand: Any) -> tuple[str, list[Any]] | None:
    if op == "$eq":
        if operand is None:
            return f"{key} IS NULL", []
        param = key_param(operand)
        return (f"{key} = ?", [param]) if param is not None else None
    if op == "$in":
        params = [key_param(v) for v in operand]
        if len(params) > MAX_IN_PARAMS or any(p is None for p in params):
            return None
        return f"{key} IN ({','.join('?' * len(params))})", params
    if op in ("$gt", "$gte", "$lt", "$lte") and key_param(operand) is not None:
        lower, upper = _BRACKETS[type(operand)]
        sign = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        if op in ("$gt", "$gte"):
            return f"{key} {sign} ? AND {key} < ?", [key_param(operand), upper]
        if lower is None:
            return f"{key} {sign} ?", [key_param(operand)]
        return f"{key} {sign} ? AND {key} >= ?", [key_param(operand), lower]
    return None


def keyset_sql(sort: Sort, after: dict[str, Any]) -> tuple[str, list[Any]] | None:
    """SQL for "after this cursor", shaped so SQLite serves it from the sort's index.

    SQLite (3.40) does not seek an expression index with a row value, so the first key
    gets a plain bound the index can seek to; the row value then only has to skip the
    ties on that key already seen.
    """
    params = [key_param(after[field]) for field, _ in sort]
    if any(p is None for p in params):
        return None
    first, direction = sort[0]
    sign = ">" if direction == 1 else "<"
    text = f"{key_sql(first)} {sign}= ?"
    if len({d for _, d in sort}) == 1:
        keys = ", ".join(key_sql(field) for field, _ in sort)
        text += f" AND ({keys}) {sign} ({', '.join('?' * len(params))})"
        return text, [params[0], *params]
    return text, [params[0]]


def order_sql(sort: Sort) -> str:
    return ", ".join(f"{key_sql(f)} {'ASC' if d == 1 else 'DESC'}" for f, d in sort)

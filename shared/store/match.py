"""MongoDB matching and ordering semantics in pure Python (no I/O).

The SQLite adapter narrows candidates in SQL and decides here, so its answers follow
MongoDB's rules: array membership, traversal of arrays of embedded documents in
dotted paths, type-bracketed comparisons, null matching missing fields, and
field-order-sensitive equality of embedded documents.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from shared.store.errors import UnsupportedOperation
from shared.store.port import Document, Filter, Sort


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# MongoDB's cross-type order for the value types in the subset.
RANK_NULL, RANK_NUMBER, RANK_STRING, RANK_OBJECT, RANK_ARRAY, RANK_BOOL, RANK_DATE = range(1, 8)


def type_rank(value: Any) -> int:
    if value is None or value is MISSING:
        return RANK_NULL
    if isinstance(value, bool):
        return RANK_BOOL
    if isinstance(value, int | float):
        return RANK_NUMBER
    if isinstance(value, str):
        return RANK_STRING
    if isinstance(value, datetime):
        return RANK_DATE
    if isinstance(value, dict):
        return RANK_OBJECT
    return RANK_ARRAY


def bson_eq(a: Any, b: Any) -> bool:
    if type_rank(a) != type_rank(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(bson_eq(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(bson_eq(x, y) for x, y in zip(a, b, strict=True))
    return a is None or a is MISSING or bool(a == b)


def sort_key(value: Any) -> tuple[int, Any]:
    rank = type_rank(value)
    if rank in (RANK_OBJECT, RANK_ARRAY):
        raise UnsupportedOperation(
            "sorting or comparing by an array or embedded document is not supported by "
            "DocumentStore"
        )
    return (rank, None if rank == RANK_NULL else value)


def resolve(value: Any, parts: list[str]) -> list[Any]:
    """Values at a dotted path; arrays of embedded documents are traversed."""
    if not parts:
        return [value]
    if isinstance(value, dict):
        return resolve(value[parts[0]], parts[1:]) if parts[0] in value else [MISSING]
    if isinstance(value, list):
        # Elements lacking the field are skipped (FerretDB's rule; MongoDB would also
        # let them match `None`), so only a path absent everywhere counts as missing.
        found = [
            v
            for el in value
            if isinstance(el, dict)
            for v in resolve(el, parts)
            if v is not MISSING
        ]
        return found or [MISSING]
    return [MISSING]


def get_path(doc: Document, path: str) -> Any:
    """The value at a path through embedded documents only (MISSING otherwise)."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _equals(value: Any, operand: Any) -> bool:
    if type(value) is str:
        # The common case (ids, kinds, states), decided without ranking both sides.
        return isinstance(operand, str) and value == operand
    if value is MISSING:
        return operand is None
    if bson_eq(value, operand):
        return True
    return isinstance(value, list) and any(bson_eq(el, operand) for el in value)


def _in(value: Any, operands: list[Any]) -> bool:
    if type(value) is str:
        # Only a string equals a string, so C-level membership is exact (a page's
        # `_id: {$in: [...]}` is checked for every document it returns).
        return value in operands
    return any(_equals(value, x) for x in operands)


def _compare(value: Any, op: str, operand: Any) -> bool:
    candidates = value if isinstance(value, list) else [value]
    rank = type_rank(operand)
    for candidate in candidates:
        if type_rank(candidate) != rank or candidate is MISSING:
            continue
        a, b = candidate, operand
        if (op == "$gt" and a > b) or (op == "$gte" and a >= b):
            return True
        if (op == "$lt" and a < b) or (op == "$lte" and a <= b):
            return True
    return False


def _field_matches(values: list[Any], op: str, operand: Any) -> bool:
    if op == "$eq":
        return any(_equals(v, operand) for v in values)
    if op == "$ne":
        return not any(_equals(v, operand) for v in values)
    if op == "$in":
        return any(_in(v, operand) for v in values)
    if op == "$nin":
        return not any(_in(v, operand) for v in values)
    if op == "$exists":
        return any(v is not MISSING for v in values) is bool(operand)
    if operand is None:
        # MongoDB: $gte/$lte null mean "is null or missing"; $gt/$lt null match nothing.
        return op in ("$gte", "$lte") and any(_equals(v, None) for v in values)
    return any(_compare(v, op, operand) for v in values)


def matches(doc: Document, filter: Filter) -> bool:
    """Whether `doc` matches a filter already checked by query.validate_filter."""
    for key, value in filter.items():
        if key == "$and":
            if not all(matches(doc, clause) for clause in value):
                return False
        elif key == "$or":
            if not any(matches(doc, clause) for clause in value):
                return False
        else:
            values = resolve(doc, key.split("."))
            is_ops = isinstance(value, dict) and value and next(iter(value)).startswith("$")
            conditions = value.items() if is_ops else [("$eq", value)]
            if not all(_field_matches(values, op, operand) for op, operand in conditions):
                return False
    return True


def is_expired(doc: Document, rules: Iterable[tuple[str, int]], now: datetime) -> bool:
    """MongoDB TTL rule: expired once the earliest date in the field is <= now - seconds."""
    for field, seconds in rules:
        cutoff = now - timedelta(seconds=seconds)
        for value in resolve(doc, field.split(".")):
            dates = value if isinstance(value, list) else [value]
            if any(isinstance(d, datetime) and d <= cutoff for d in dates):
                return True
    return False


def sort_documents(docs: list[Document], sort: Sort) -> list[Document]:
    def compare(a: Document, b: Document) -> int:
        for field, direction in sort:
            ka, kb = sort_key(get_path(a, field)), sort_key(get_path(b, field))
            if ka != kb:
                return direction if ka > kb else -direction
        return 0

    return sorted(docs, key=functools.cmp_to_key(compare))


def check_sort_values(docs: Iterable[Document], sort: Sort | None) -> None:
    """Raise UnsupportedOperation when a sorted result holds an array or document key."""
    for doc in docs:
        for field, _ in sort or []:
            sort_key(get_path(doc, field))


def project(doc: Document, fields: list[str]) -> Document:
    """Keep `_id` and the listed (dotted) fields in document order, as MongoDB does."""
    tree: dict[str, Any] = {"_id": True}
    for field in fields:
        node = tree
        *parents, leaf = field.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[leaf] = True
    result: Document = _project(doc, tree)
    return result


def _project(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_project(el, tree) for el in value if isinstance(el, dict)]
    out: Document = {}
    for key, item in value.items():
        wanted = tree.get(key)
        if wanted is True:
            out[key] = item
        elif wanted and isinstance(item, dict | list):
            out[key] = _project(item, wanted)
    return out

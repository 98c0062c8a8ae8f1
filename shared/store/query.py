"""Validation of filters, updates and sorts against the DocumentStore subset (pure, no I/O).

Every adapter runs its arguments through these functions first, so anything outside
the subset fails the same way everywhere instead of giving an engine-specific answer.
The functions also normalise values: datetimes become timezone-aware UTC truncated to
milliseconds, which is what BSON stores, so both adapters round-trip the same value.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from datetime import UTC, datetime
from typing import Any

from shared.store.errors import UnsupportedOperation
from shared.store.port import Document, Filter, Sort, Update

FIELD_OPERATORS = frozenset({"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"})
COMPARISONS = frozenset({"$gt", "$gte", "$lt", "$lte"})
LOGICAL_OPERATORS = frozenset({"$and", "$or"})
UPDATE_OPERATORS = frozenset(
    {"$set", "$unset", "$inc", "$push", "$addToSet", "$pull", "$setOnInsert", "$min", "$max"}
)
# Names only: positional segments ("items.0") mean different things on arrays and
# documents in MongoDB, and FerretDB forbids '.' and '$' inside keys.
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_INT64 = (-(2**63), 2**63 - 1)


def unsupported(what: str) -> UnsupportedOperation:
    return UnsupportedOperation(f"{what} is not supported by DocumentStore")


def validate_path(path: str) -> str:
    if not isinstance(path, str) or not _plain_path(path):
        raise unsupported(f"field path {path!r} (segments must be plain names)")
    return path


@functools.lru_cache(maxsize=4096)
def _plain_path(path: str) -> bool:
    # Cached: services use a few hundred distinct paths, each checked on every write.
    return all(_SEGMENT.match(p) for p in path.split("."))


def normalize_value(value: Any) -> Any:
    """Check a stored or compared value is in the subset; return it normalised."""
    # Exact-type checks before isinstance: every stored document passes through here, and
    # most values are plain strings, dicts and lists.
    kind = type(value)
    if kind is str or value is None or isinstance(value, bool | str):
        return value
    if kind is dict or isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str) or not key or "." in key or key[0] == "$":
                raise unsupported(
                    f"document key {key!r} (keys may not contain '.' or start with '$')"
                )
            # Strings, booleans and None are kept as they are: no call for them.
            out[key] = v if (v is None or type(v) is str or type(v) is bool) else normalize_value(v)
        return out
    if kind is list or isinstance(value, list):
        items = []
        for v in value:
            if isinstance(v, list):
                raise unsupported("an array nested directly in an array")
            items.append(v if type(v) is str else normalize_value(v))
        return items
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise unsupported(f"integer {value} outside the int64 range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise unsupported("NaN or infinite float")
        return value
    if isinstance(value, datetime):
        if value.tzinfo is UTC and not value.microsecond % 1000:
            return value  # already what BSON stores (values read back from the store are)
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        utc = aware.astimezone(UTC)
        return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    raise unsupported(f"value of type {type(value).__name__}")


def normalize_document(doc: Document) -> Document:
    if not isinstance(doc, dict) or not isinstance(doc.get("_id"), str):
        raise UnsupportedOperation("a document needs a str '_id'")
    result: Document = normalize_value(doc)
    return result


def _is_operator_dict(value: Any) -> bool:
    if not isinstance(value, dict) or not value:
        return False
    dollars = [k.startswith("$") for k in value]
    if any(dollars) and not all(dollars):
        raise unsupported(f"mixing operators and fields in {value!r}")
    return all(dollars)


def validate_filter(filter: Filter) -> Filter:
    """Return the filter normalised; raise UnsupportedOperation outside the subset."""
    if not isinstance(filter, dict):
        raise unsupported(f"filter of type {type(filter).__name__}")
    out: Filter = {}
    for key, value in filter.items():
        if key in LOGICAL_OPERATORS:
            if not isinstance(value, list) or not value:
                raise unsupported(f"{key} without a non-empty list")
            out[key] = [validate_filter(clause) for clause in value]
        elif key.startswith("$"):
            raise unsupported(key)
        elif _is_operator_dict(value):
            out[validate_path(key)] = {op: _validate_operand(op, arg) for op, arg in value.items()}
        else:
            out[validate_path(key)] = _filter_value("equality", value)
    return out


def _filter_value(op: str, value: Any) -> Any:
    # FerretDB does not find an embedded document inside an array by equality, so
    # matching whole embedded documents is left out; dotted paths do the job.
    if isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(v, dict) for v in value)
    ):
        raise unsupported(f"{op} against an embedded document (use dotted paths)")
    return normalize_value(value)


def _validate_operand(op: str, arg: Any) -> Any:
    if op not in FIELD_OPERATORS:
        raise unsupported(op)
    if op in ("$in", "$nin"):
        if not isinstance(arg, list):
            raise unsupported(f"{op} without a list")
        return [_filter_value(op, v) for v in arg]
    if op == "$exists":
        if not isinstance(arg, bool):
            raise unsupported("$exists with a non-bool argument")
        return arg
    if op in COMPARISONS and isinstance(arg, list | dict):
        raise unsupported(f"{op} against an array or embedded document")
    return _filter_value(op, arg)


def validate_sort(sort: Sort | None) -> Sort | None:
    if sort is None:
        return None
    if not isinstance(sort, list) or not sort:
        raise unsupported("an empty or non-list sort")
    seen = set()
    for item in sort:
        if not isinstance(item, tuple | list) or len(item) != 2 or item[1] not in (1, -1):
            raise unsupported(f"sort item {item!r} (use (field, 1) or (field, -1))")
        if validate_path(item[0]) in seen:
            raise unsupported(f"sorting twice on {item[0]!r}")
        seen.add(item[0])
    return [(field, direction) for field, direction in sort]


def validate_update(update: Update) -> Update:
    """Return the update normalised; raise UnsupportedOperation outside the subset."""
    if not isinstance(update, dict) or not update:
        raise unsupported("an empty update")
    if not all(isinstance(k, str) and k.startswith("$") for k in update):
        raise unsupported("a replacement document (use $set)")
    out: Update = {}
    paths: list[str] = []
    for op, fields in update.items():
        if op not in UPDATE_OPERATORS:
            raise unsupported(f"update operator {op}")
        if not isinstance(fields, dict) or not fields:
            raise unsupported(f"{op} without fields")
        out[op] = {}
        for path, value in fields.items():
            validate_path(path)
            if path == "_id" and op != "$setOnInsert":
                raise UnsupportedOperation("_id is immutable")
            paths.append(path)
            out[op][path] = _validate_update_value(op, value)
    _check_conflicts(paths)
    return out


def _validate_update_value(op: str, value: Any) -> Any:
    if op == "$inc" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise unsupported("$inc by a non-number")
    if op in ("$push", "$addToSet") and _is_operator_dict(value):
        allowed = {"$each", "$slice"} if op == "$push" else {"$each"}
        if extra := set(value) - allowed:
            raise unsupported(f"{op} modifier {sorted(extra)[0]}")
        if not isinstance(value.get("$each"), list):
            raise unsupported(f"{op} modifiers without $each")
        if "$slice" in value and (
            isinstance(value["$slice"], bool) or not isinstance(value["$slice"], int)
        ):
            raise unsupported("$slice with a non-integer")
        return {k: normalize_value(v) for k, v in value.items()}
    if op == "$pull" and _is_operator_dict(value):
        raise unsupported("$pull with an operator condition")
    if op in ("$min", "$max") and isinstance(value, list | dict):
        raise unsupported(f"{op} with an array or embedded document")
    return normalize_value(value)


def _check_conflicts(paths: list[str]) -> None:
    ordered = sorted(paths)
    for a, b in itertools.pairwise(ordered):
        if a == b or b.startswith(a + "."):
            raise UnsupportedOperation(f"updating {a!r} and {b!r} in one update conflicts")


def keyset_filter(sort: Sort | None, after: dict[str, Any]) -> Filter:
    """Filter selecting the documents strictly after `after` in `sort` order.

    Comparisons are type-bracketed as in MongoDB, so a document whose sort key is
    missing, None or of another type than in `after` is not on any later page: keep
    sort keys present and of one type.
    """
    if not sort or sort[-1][0] != "_id":
        raise unsupported("`after` without a sort ending with _id")
    if set(after) != {field for field, _ in sort}:
        raise unsupported("`after` whose keys differ from the sort keys")
    clauses: list[Filter] = []
    for i, (field, direction) in enumerate(sort):
        value = after[field]
        if value is None or isinstance(value, list | dict):
            raise unsupported(f"`after` value {value!r} for {field!r}")
        clause: Filter = {prev: after[prev] for prev, _ in sort[:i]}
        clause[field] = {"$gt" if direction == 1 else "$lt": value}
        clauses.append(clause)
    return validate_filter({"$or": clauses})


def upsert_seed(filter: Filter) -> Document:
    """Fields MongoDB copies from the filter into an upserted document (equalities only)."""
    seed: Document = {}
    for key, value in filter.items():
        if key == "$and":
            for clause in value:
                for path, v in upsert_seed(clause).items():
                    seed[path] = v
        elif key.startswith("$"):
            continue
        elif not _is_operator_dict(value):
            seed[key] = value
        elif "$eq" in value:
            seed[key] = value["$eq"]
    return seed

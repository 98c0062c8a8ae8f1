"""Checking and normalising document bodies against an IndexSpec (both adapters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.search.port import AUDIENCE_FIELD, FieldSpec, IndexSpec


class InvalidValue(ValueError):
    """A field value that does not fit its type: the document is rejected with this reason."""


def jsonable(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with datetimes as ISO-8601 strings (what both adapters store as source)."""
    return {key: _jsonable(value) for key, value in body.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return jsonable(value)
    return value


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_audience(body: Mapping[str, Any]) -> str:
    audience = body.get(AUDIENCE_FIELD)
    if not isinstance(audience, str) or not audience:
        raise InvalidValue("field 'audience': a non-empty string is required")
    return audience


def to_epoch(value: Any) -> float:
    """A date field value (datetime or ISO-8601 string) as seconds since the epoch."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidValue(f"not an ISO-8601 date: {value[:40]!r}") from None
    if not isinstance(value, datetime):
        raise InvalidValue(f"not a date: {type(value).__name__}")
    return as_utc(value).timestamp()


def indexed_values(spec: IndexSpec, body: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Each declared field's values, checked: text as strings, dates as epoch seconds."""
    check_audience(body)
    values: dict[str, list[Any]] = {}
    for field in spec.fields:
        raw = body.get(field.name)
        if raw is None:
            values[field.name] = []
            continue
        items = list(raw) if isinstance(raw, list | tuple) else [raw]
        try:
            values[field.name] = [_check(field, item) for item in items if item is not None]
        except InvalidValue as exc:
            raise InvalidValue(f"field {field.name!r}: {exc}") from None
    return values


def _check(field: FieldSpec, value: Any) -> Any:
    if field.type in ("text", "keyword", "typeahead"):
        if not isinstance(value, str):
            raise InvalidValue(f"expected a string, got {type(value).__name__}")
        return value
    if field.type == "date":
        return to_epoch(value)
    if field.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f"expected a number, got {type(value).__name__}")
        return float(value)
    if not isinstance(value, bool):
        raise InvalidValue(f"expected a boolean, got {type(value).__name__}")
    return int(value)

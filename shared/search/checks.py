"""Request checks both adapters run before touching the engine (SearchQueryError on misuse)."""

from __future__ import annotations

from collections.abc import Iterable

from shared.search.errors import SearchQueryError
from shared.search.port import FieldType, IndexSpec, SearchRequest

FILTERABLE: tuple[FieldType, ...] = ("keyword", "boolean", "number", "date")
MAX_SIZE = 1000


def field_type(spec: IndexSpec, name: str, allowed: Iterable[FieldType], role: str) -> FieldType:
    try:
        kind = spec.field(name).type
    except KeyError:
        raise SearchQueryError(f"unknown field {name!r}") from None
    if kind not in tuple(allowed):
        raise SearchQueryError(f"field {name!r} ({kind}) cannot be used as {role}")
    return kind


def check_request(spec: IndexSpec, request: SearchRequest) -> None:
    if not 0 <= request.size <= MAX_SIZE or not 1 <= request.facet_size <= MAX_SIZE:
        raise SearchQueryError(f"size and facet_size must be within 0..{MAX_SIZE}")
    for name in request.filters:
        field_type(spec, name, FILTERABLE, "a filter")
    for name in request.facets:
        field_type(spec, name, ("keyword",), "a facet")
    for name in request.highlight:
        field_type(spec, name, ("text", "typeahead"), "a highlight")
    for term in request.query.field_terms:
        field_type(spec, term.field, ("text", "typeahead", *FILTERABLE), "a field term")
    if request.date_range is not None:
        field_type(spec, request.date_range.field, ("date",), "a date range")
    relevance = request.relevance
    for name in relevance.field_boosts:
        field_type(spec, name, ("text", "typeahead"), "a boosted field")
    if relevance.engagement_field is not None:
        field_type(spec, relevance.engagement_field, ("number",), "the engagement field")
    if relevance.recency_scale_days is not None and relevance.recency_scale_days <= 0:
        raise SearchQueryError("recency_scale_days must be positive")
    if request.sort == "recent" and spec.recency_field is None:
        raise SearchQueryError(f"index {spec.alias!r} has no recency field to sort by")

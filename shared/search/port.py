"""SearchIndex: full-text indexes of documents, searched under an audience filter.

Both adapters (`OpenSearchIndex`, `SqliteSearchIndex`) pass one contract suite
(`tests/shared/search/test_search_contract.py`). What an adapter cannot do the way the
other does is declared in `capabilities` and documented in docs/search.md ("Embedded
backend differences"); the suite asserts a capability only where it is claimed.

Rules every adapter keeps:
- External versions: a write (upsert or delete) at version v is applied only if v is
  greater than the version stored for that id, so duplicated, late or shuffled events
  converge. Deletes leave a tombstone carrying their version (never dropped).
- Every read (hits, totals, facet counts, highlights, suggestions, counts) sees only
  documents whose `audience` is in the caller's `audiences`, and never a tombstone.
"""

from __future__ import annotations

import asyncio
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

FieldType = Literal["text", "keyword", "typeahead", "date", "number", "boolean"]
FilterValue = str | int | float | bool
SortOrder = Literal["relevance", "recent"]

AUDIENCE_FIELD = "audience"
"""Every document carries `audience`: `org` or a group id (a keyword, added to each spec)."""

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,120}$")
"""Aliases: lower-case, as OpenSearch requires (field names: letters, digits, `_`)."""
FIELD_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

RESERVED_FIELDS = frozenset({"doc_id", "deleted"})
"""Field names the adapters use for their own bookkeeping; a spec may not declare them."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an index.

    text: analysed (English stemming, ASCII folding, search-time synonyms), ranked with
    `boost`. keyword: exact values (str or list of str) for filters, facets and sort.
    typeahead: a short text matched by prefix in `suggest` (also searched as text).
    date: aware datetime or ISO-8601 string. number: int/float. boolean.
    """

    name: str
    type: FieldType
    boost: float = 1.0


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """The logical index `alias` (e.g. `canteen-posts`) and its fields.

    Physical indexes are named `<alias>-<NNNNNN>`; the alias always points at exactly one.
    `recency_field` (a date field) drives sort=recent and the recency decay;
    `synonyms` names the synonym set applied to text fields at search time; bump
    `version` when fields change (then reindex with create_version + swap_alias).
    """

    alias: str
    fields: tuple[FieldSpec, ...]
    recency_field: str | None = None
    synonyms: str | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.alias):
            raise ValueError(f"invalid alias {self.alias!r}")
        names = [f.name for f in self.fields]
        if bad := [n for n in names if not FIELD_PATTERN.match(n)]:
            raise ValueError(f"invalid field names: {bad}")
        if not self.of_type("text", "typeahead"):
            raise ValueError("an index needs at least one text or typeahead field")
        if len(set(names)) != len(names):
            raise ValueError("duplicate field names")
        if RESERVED_FIELDS & set(names):
            raise ValueError(f"reserved field names: {sorted(RESERVED_FIELDS & set(names))}")
        if AUDIENCE_FIELD not in names:
            object.__setattr__(self, "fields", (*self.fields, FieldSpec(AUDIENCE_FIELD, "keyword")))
        elif self.field(AUDIENCE_FIELD).type != "keyword":
            raise ValueError("`audience` must be a keyword field")
        if self.recency_field is not None and self.field(self.recency_field).type != "date":
            raise ValueError("recency_field must name a date field")

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def of_type(self, *types: FieldType) -> list[FieldSpec]:
        return [f for f in self.fields if f.type in types]


@dataclass(frozen=True, slots=True)
class IndexedDoc:
    """A document to index at an external `version` (e.g. the aggregate's revision)."""

    id: str
    version: int
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Tombstone:
    """Delete `id` as of `version`: an upsert at a version <= this one is ignored later."""

    id: str
    version: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A document the engine refused (bad field value, ...): the caller dead-letters it."""

    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    applied: int = 0
    stale: int = 0
    """Writes ignored because the stored version was the same or newer (not errors)."""
    rejected: tuple[Rejected, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldTerm:
    """`field:value` in a query: exact on a keyword field, analysed match on a text field."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class Query:
    """The parsed query (the service's AST).

    Every term, phrase and field term must match (AND); an excluded entry must not match
    (a multi-word exclusion is a phrase). Terms and phrases match any text/typeahead
    field. An empty query matches every visible document (browse by filters).
    """

    terms: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    field_terms: tuple[FieldTerm, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.phrases or self.field_terms)


@dataclass(frozen=True, slots=True)
class DateRange:
    """`field` within [gte, lt); either bound may be open."""

    field: str
    gte: datetime | None = None
    lt: datetime | None = None


@dataclass(frozen=True, slots=True)
class Relevance:
    """Ranking knobs for sort=relevance.

    field_boosts override the spec's text-field boosts. recency_scale_days: a document
    this old scores half (gauss decay on the spec's recency_field; None = off).
    engagement_field: a number field added as log1p(value) * engagement_factor.
    phrase_boost: extra weight when the whole query appears as a phrase.
    """

    field_boosts: Mapping[str, float] = field(default_factory=dict)
    recency_scale_days: float | None = 30.0
    engagement_field: str | None = None
    engagement_factor: float = 1.0
    phrase_boost: float = 2.0


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One search. `audiences` is the privacy boundary: empty means nothing matches.

    filters: field -> allowed values (AND across fields, OR within a field).
    facets: keyword fields to count values of (under the same query and filters).
    highlight: text fields to return highlighted fragments for (<mark>..</mark>).
    search_after: the `next_cursor` of the previous page (same query and sort).
    """

    query: Query
    audiences: Sequence[str]
    filters: Mapping[str, Sequence[FilterValue]] = field(default_factory=dict)
    date_range: DateRange | None = None
    sort: SortOrder = "relevance"
    facets: Sequence[str] = ()
    facet_size: int = 10
    highlight: Sequence[str] = ()
    size: int = 20
    search_after: str | None = None
    relevance: Relevance = field(default_factory=Relevance)
    fuzzy: bool = False


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float
    source: Mapping[str, Any]
    highlights: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class SearchResponse:
    hits: Sequence[Hit]
    total: int
    facets: Mapping[str, Sequence[FacetCount]] = field(default_factory=dict)
    next_cursor: str | None = None
    suggestion: str | None = None
    """Did-you-mean: the query with misspelt terms corrected (adapters with the capability)."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A document whose typeahead field starts with the prefix, with that field's text."""

    id: str
    text: str
    field: str
    source: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an adapter does beyond the common contract (see docs/search.md)."""

    fuzzy: bool
    """Typo tolerance when SearchRequest.fuzzy is set."""
    recency_in_ranking: bool
    """Recency decays the relevance score itself (else: applied as a tie-break blend)."""
    did_you_mean: bool
    """SearchResponse.suggestion is filled for misspelt queries."""


class SearchIndex(ABC):
    """Logical indexes (aliases) of versioned documents; open in a lifespan, close after."""

    capabilities: Capabilities

    @abstractmethod
    async def ensure(self, spec: IndexSpec) -> None:
        """Create the template, the first physical index and the alias if missing (idempotent)."""

    @abstractmethod
    async def create_version(self, spec: IndexSpec) -> str:
        """Create the next physical index for `spec.alias` (not aliased yet); return its name."""

    @abstractmethod
    async def swap_alias(self, alias: str, physical: str) -> None:
        """Point `alias` at `physical` atomically, then drop the previous physical index."""

    @abstractmethod
    async def upsert(self, index: str, docs: Sequence[IndexedDoc]) -> WriteResult:
        """Index documents (alias or physical name) with external versions.

        Sent in batches; retried with backoff on throttling or server errors; raises
        SearchUnavailable when retries run out. Refused documents come back in `rejected`.
        """

    @abstractmethod
    async def delete(self, index: str, tombstones: Sequence[Tombstone]) -> WriteResult:
        """Replace documents by versioned tombstones (a late older upsert stays ignored)."""

    @abstractmethod
    async def search(self, alias: str, request: SearchRequest) -> SearchResponse:
        """Raise SearchQueryError for a request the index cannot run (unknown field, ...)."""

    async def search_many(
        self, queries: Sequence[tuple[str, SearchRequest]]
    ) -> list[SearchResponse]:
        """`search` for each (alias, request), in order; an adapter may send them at once.

        Fails as the first failing search would (the same error types).
        """
        return list(await asyncio.gather(*(self.search(a, r) for a, r in queries)))

    @abstractmethod
    async def suggest(
        self,
        alias: str,
        prefix: str,
        *,
        audiences: Sequence[str],
        filters: Mapping[str, Sequence[FilterValue]] | None = None,
        limit: int = 10,
    ) -> list[Suggestion]:
        """Documents whose typeahead field has a word starting with `prefix`, best first."""

    @abstractmethod
    async def update_synonyms(self, name: str, rules: Sequence[str]) -> None:
        """Replace the synonym set `name` (Solr rules: `a, b, c` or `a => b`); no reindex.

        No rules removes the set. Malformed rules raise ValueError before anything changes.
        """

    @abstractmethod
    async def refresh(self, index: str) -> None:
        """Make every acknowledged write visible to searches now (tests, reindex)."""

    @abstractmethod
    async def count(self, alias: str, *, audiences: Sequence[str] | None = None) -> int:
        """Live (non-tombstone) documents, optionally only those in `audiences`."""

    @abstractmethod
    async def drop(self, alias: str) -> None:
        """Remove the alias, its physical indexes and template (tests, decommissioning)."""

    @abstractmethod
    async def ping(self) -> None:
        """Return when the index answers; raise SearchUnavailable otherwise."""

    @abstractmethod
    async def close(self) -> None: ...

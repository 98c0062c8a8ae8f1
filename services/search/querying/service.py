"""Search use cases: one query over the four indexes, typeahead, experts — all audience-bound.

The caller's audiences are `org` plus the groups they are an active member of (from the
search service's own memberships projection); every index call passes them, so no hit,
highlight, facet count, total, suggestion or expert can come from a private group the
caller is not in. Org admins get no more than any member (as in the activity service).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.search.domain.query import ParsedQuery, normalize_topic
from services.search.indexes import Indexes
from services.search.indexing.repository import GROUP_FOLDS, Projections
from shared.search import (
    DateRange,
    FilterValue,
    Query,
    Relevance,
    SearchIndex,
    SearchRequest,
    SearchResponse,
)

SearchType = Literal["all", "post", "note", "question", "resource", "article", "person", "group"]
FACETS = ("type", "topic", "group", "author", "department")
FAMILY_FIELDS = {
    "posts": {"type", "topic", "group", "author", "department", "state"},
    "resources": {"type", "topic", "group", "author", "department"},
    "people": {"type", "topic", "department"},
    "groups": {"type", "group"},
}
HIGHLIGHT = {
    "posts": ["title", "text", "answers", "accepted_answer"],
    "resources": ["title", "text"],
    "people": ["name", "title"],
    "groups": ["name", "description"],
}
FAMILIES_OF: dict[str, tuple[str, ...]] = {
    "all": ("posts", "resources", "people", "groups"),
    "post": ("posts", "resources"),
    "note": ("posts",),
    "question": ("posts",),
    "article": ("posts",),
    "resource": ("resources",),
    "person": ("people",),
    "group": ("groups",),
}
RELEVANCE = Relevance(recency_scale_days=90.0, engagement_field=None, phrase_boost=2.0)
POST_RELEVANCE = Relevance(
    recency_scale_days=90.0, engagement_field="engagement", engagement_factor=0.3
)
FEW_HITS = 3
EXHAUSTED = "~"


@dataclass(frozen=True)
class SearchParams:
    parsed: ParsedQuery
    type: SearchType = "all"
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    date_from: datetime | None = None
    date_to: datetime | None = None
    sort: Literal["relevance", "recent"] = "relevance"
    limit: int = 20
    positions: Mapping[str, str] = field(default_factory=dict)


@dataclass
class SearchResult:
    hits: list[dict[str, Any]]
    total: int
    facets: dict[str, list[dict[str, Any]]]
    positions: dict[str, str] | None
    did_you_mean: str | None


class SearchService:
    def __init__(self, index: SearchIndex, indexes: Indexes, proj: Projections) -> None:
        self._index = index
        self._indexes = indexes
        self._proj = proj

    @property
    def index(self) -> SearchIndex:
        return self._index

    @property
    def indexes(self) -> Indexes:
        return self._indexes

    async def audiences(self, user_id: str) -> list[str]:
        return ["org", *await self._proj.member_groups(user_id)]

    async def search(self, user_id: str, params: SearchParams) -> SearchResult:
        audiences = await self.audiences(user_id)
        filters = await self._resolve(dict(params.filters))
        for name, values in params.parsed.filters.items():
            filters.setdefault(name, []).extend(await self._resolve_values(name, values))
        kinds = set(filters.pop("type", []))
        type_ = params.type
        families = [f for f in FAMILIES_OF[type_] if set(filters) <= FAMILY_FIELDS[f]]
        if type_ in ("note", "question", "article"):
            kinds.add(type_)
        if kinds:
            families = [f for f in families if any(f in FAMILIES_OF[k] for k in kinds)]
        families = [f for f in families if params.positions.get(f) != EXHAUSTED]
        sort = params.sort
        queries = [self._query(f, params, filters, kinds, audiences, sort) for f in families]
        responses = dict(zip(families, await self._index.search_many(queries), strict=True))
        result = self._merge(params, responses, sort)
        if result.did_you_mean is None and result.total < FEW_HITS and params.parsed.query.terms:
            result.did_you_mean = await self._did_you_mean(params.parsed, audiences)
        return result

    async def _did_you_mean(self, parsed: ParsedQuery, audiences: list[str]) -> str | None:
        """Misspelt words replaced by close topics the caller can see (never index-wide
        statistics, which would leak a private group's words)."""
        facet = await self._index.search(
            self._indexes.alias("posts"),
            SearchRequest(
                query=Query(), audiences=audiences, facets=["topic"], facet_size=500, size=1
            ),
        )
        vocabulary = sorted({w for c in facet.facets.get("topic", []) for w in c.value.split("-")})
        fixed = []
        for term in parsed.query.terms:
            close = difflib.get_close_matches(term.lower(), vocabulary, n=1, cutoff=0.7)
            fixed.append(close[0] if close else term)
        if [t.lower() for t in parsed.query.terms] == fixed:
            return None
        return " ".join([*fixed, *(f'"{p}"' for p in parsed.query.phrases)])

    def _query(
        self,
        family: str,
        params: SearchParams,
        filters: dict[str, list[str]],
        kinds: set[str],
        audiences: list[str],
        sort: Literal["relevance", "recent"],
    ) -> tuple[str, SearchRequest]:
        """The (alias, request) searching one family of indexes."""
        fam_filters: dict[str, Sequence[FilterValue]] = {k: v for k, v in filters.items()}
        post_kinds = sorted(k for k in kinds if k in ("note", "question", "article"))
        if family == "posts" and post_kinds and not {"post"} & kinds:
            fam_filters["type"] = post_kinds
        if "state" in filters:
            fam_filters["type"] = ["question"]
        date_range = None
        if params.date_from or params.date_to:
            date_range = DateRange("created_at", gte=params.date_from, lt=params.date_to)
        request = SearchRequest(
            query=params.parsed.query,
            audiences=audiences,
            filters=fam_filters,
            date_range=date_range,
            sort=sort,
            facets=[f for f in FACETS if f in FAMILY_FIELDS[family]],
            highlight=HIGHLIGHT[family],
            size=params.limit,
            search_after=params.positions.get(family) or None,
            relevance=POST_RELEVANCE if family in ("posts", "resources") else RELEVANCE,
            fuzzy=self._index.capabilities.fuzzy,
        )
        return self._indexes.alias(family), request

    def _merge(
        self, params: SearchParams, responses: dict[str, SearchResponse], sort: str
    ) -> SearchResult:
        candidates = [(f, i, h) for f, r in responses.items() for i, h in enumerate(r.hits)]
        if sort == "recent":
            candidates.sort(
                key=lambda c: (str(c[2].source.get("created_at", "")), c[2].id), reverse=True
            )
        else:
            candidates.sort(key=lambda c: (-c[2].score, c[1], c[2].id))
        page = candidates[: params.limit]
        taken = {f: sum(1 for c in page if c[0] == f) for f in responses}
        positions = dict(params.positions)
        more = False
        for family, response in responses.items():
            consumed = taken[family]
            if consumed == len(response.hits):
                positions[family] = response.next_cursor or EXHAUSTED
            else:
                more = True
                if consumed:
                    # The family's cursor after its last shown hit comes from a page of that size.
                    positions[family] = f"@{consumed}:{positions.get(family, '')}"
            more = more or positions[family] != EXHAUSTED
        facets: dict[str, dict[str, int]] = {}
        for response in responses.values():
            for name, counts in response.facets.items():
                bucket = facets.setdefault(name, {})
                for c in counts:
                    bucket[c.value] = bucket.get(c.value, 0) + c.count
        total = sum(r.total for r in responses.values())
        suggestion = next((r.suggestion for r in responses.values() if r.suggestion), None)
        return SearchResult(
            hits=[_hit(f, h) for f, _, h in page],
            total=total,
            facets={
                n: [
                    {"value": v, "count": c}
                    for v, c in sorted(b.items(), key=lambda x: (-x[1], x[0]))[:10]
                ]
                for n, b in facets.items()
            },
            positions=positions if more else None,
            did_you_mean=suggestion if total < FEW_HITS else None,
        )

    async def resolve_positions(self, params: SearchParams, user_id: str) -> SearchParams:
        """Turn `@n:<cursor>` markers (n hits shown from a page) into real cursors."""
        if not any(v.startswith("@") for v in params.positions.values()):
            return params
        positions = dict(params.positions)
        for family, value in params.positions.items():
            if not value.startswith("@"):
                continue
            count, _, before = value[1:].partition(":")
            sub = SearchParams(
                **{**params.__dict__, "limit": int(count), "positions": {family: before}}
            )
            response = await self.search_family(user_id, sub, family)
            positions[family] = response.next_cursor or EXHAUSTED
        return SearchParams(**{**params.__dict__, "positions": positions})

    async def search_family(
        self, user_id: str, params: SearchParams, family: str
    ) -> SearchResponse:
        audiences = await self.audiences(user_id)
        filters = await self._resolve(dict(params.filters))
        for name, values in params.parsed.filters.items():
            filters.setdefault(name, []).extend(await self._resolve_values(name, values))
        kinds = set(filters.pop("type", []))
        if params.type in ("note", "question", "article"):
            kinds.add(params.type)
        alias, request = self._query(family, params, filters, kinds, audiences, params.sort)
        return await self._index.search(alias, request)

    async def _resolve(self, filters: dict[str, Sequence[str]]) -> dict[str, list[str]]:
        return {k: await self._resolve_values(k, list(v)) for k, v in filters.items() if v}

    async def _resolve_values(self, name: str, values: list[str]) -> list[str]:
        out: list[str] = []
        for value in values:
            if name == "author":
                person = await self._proj.person_by_handle(value.lstrip("@"))
                out.append(person["_id"] if person else value)
            elif name == "group":
                group = await self._proj[GROUP_FOLDS].find_one({"group.slug": value})
                out.append(group["_id"] if group else value)
            elif name == "topic":
                out.append(normalize_topic(value))
            else:
                out.append(value)
        return out


def _hit(family: str, hit: Any) -> dict[str, Any]:
    src = dict(hit.source)
    return {
        "id": hit.id,
        "type": src.get("type"),
        "title": src.get("title") or src.get("name") or "",
        "score": hit.score,
        "highlights": {k: list(v) for k, v in hit.highlights.items()},
        "topics": src.get("topic", []),
        "author": src.get("author"),
        "group": src.get("group"),
        "url": src.get("url"),
        "state": src.get("state"),
        "engagement": src.get("engagement"),
        "answer_count": src.get("answer_count"),
        "handle": src.get("handle"),
        "created_at": src.get("created_at"),
    }

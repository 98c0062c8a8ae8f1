"""Query DSL for OpenSearchIndex reads, and parsing of the responses.

Everything a caller may observe is computed under `bool.filter` (audience, filters, date
range) and `bool.must_not` (tombstones, exclusions): hits, totals, highlights and the
`terms` aggregations used for facets. Ranking (sort=relevance):
  function_score(bool(must: multi_match per term over the boosted text fields,
                      should: match_phrase of the whole query ^ phrase_boost),
                 gauss(recency_field, scale, decay 0.5) * field_value_factor(log2p),
                 score_mode=multiply, boost_mode=multiply)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.search import cursor as cursors
from shared.search.checks import FILTERABLE, field_type
from shared.search.port import (
    FacetCount,
    FilterValue,
    Hit,
    IndexSpec,
    SearchRequest,
    SearchResponse,
    Suggestion,
)
from shared.search.synonyms import expand, meaningful

Synonyms = dict[str, tuple[str, ...]]
Json = dict[str, Any]
MARK = {"pre_tags": ["<mark>"], "post_tags": ["</mark>"]}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def visibility(
    spec: IndexSpec,
    audiences: Sequence[str],
    filters: Mapping[str, Sequence[FilterValue]],
) -> tuple[list[Json], list[Json]]:
    """(filter, must_not) clauses: the audience boundary, filters, no tombstones."""
    clauses: list[Json] = [{"terms": {"audience": list(audiences)}}]
    for name, values in filters.items():
        field_type(spec, name, FILTERABLE, "a filter")
        clauses.append({"terms": {name: list(values)}})
    return clauses, [{"term": {"deleted": True}}]


def _text_fields(spec: IndexSpec, request: SearchRequest) -> list[str]:
    boosts = request.relevance.field_boosts
    return [f"{f.name}^{boosts.get(f.name, f.boost)}" for f in spec.of_type("text", "typeahead")]


def _alternatives(text: str, fields: list[str], synonyms: Synonyms, fuzzy: bool) -> Json:
    options = []
    for alternative in expand(text, synonyms):
        clause: Json = {"query": alternative, "fields": fields}
        if " " in alternative.strip():
            clause["type"] = "phrase"
        else:
            clause |= {"operator": "and", "tie_breaker": 0.3}
            if fuzzy:
                clause |= {"fuzziness": "AUTO", "prefix_length": 1}
        options.append({"multi_match": clause})
    return options[0] if len(options) == 1 else {"bool": {"should": options}}


def search_body(spec: IndexSpec, request: SearchRequest, synonyms: Synonyms, now: float) -> Json:
    query = request.query
    fields = _text_fields(spec, request)
    filters, must_not = visibility(spec, request.audiences, request.filters)
    must: list[Json] = []
    for term in query.terms:
        if meaningful(term):
            must.append(_alternatives(term, fields, synonyms, request.fuzzy))
    for phrase in query.phrases:
        if meaningful(phrase):
            must.append(_alternatives(phrase, fields, synonyms, False))
    for ft in query.field_terms:
        if spec.field(ft.field).type in FILTERABLE:
            filters.append({"term": {ft.field: ft.value}})
        elif meaningful(ft.value):
            must.append({"match": {ft.field: {"query": ft.value, "operator": "and"}}})
    for excluded in query.excluded:
        if meaningful(excluded):
            alternatives = [_alternatives(a, fields, {}, False) for a in expand(excluded, synonyms)]
            must_not.extend(alternatives)
    if (dr := request.date_range) is not None:
        bounds = {k: v.isoformat() for k, v in (("gte", dr.gte), ("lt", dr.lt)) if v}
        filters.append({"range": {dr.field: bounds}})
    should: list[Json] = []
    words = [t for t in query.terms if meaningful(t)]
    relevance = request.relevance
    if len(words) > 1 and relevance.phrase_boost:
        should.append(
            {
                "multi_match": {
                    "query": " ".join(words),
                    "fields": fields,
                    "type": "phrase",
                    "boost": relevance.phrase_boost,
                }
            }
        )
    boolean: Json = {"filter": filters, "must_not": must_not}
    boolean["must"] = must or [{"match_all": {}}]
    if should:
        boolean["should"] = should
    scored: Json = {"bool": boolean}
    functions: list[Json] = []
    if request.sort == "relevance":
        if relevance.recency_scale_days is not None and spec.recency_field is not None:
            scale = f"{int(relevance.recency_scale_days * 86_400_000)}ms"
            functions.append(
                {"gauss": {spec.recency_field: {"origin": _iso(now), "scale": scale, "decay": 0.5}}}
            )
        if relevance.engagement_field is not None:
            functions.append(
                {
                    "field_value_factor": {
                        "field": relevance.engagement_field,
                        "factor": relevance.engagement_factor,
                        "modifier": "log2p",
                        "missing": 0,
                    }
                }
            )
    if functions:
        scored = {
            "function_score": {
                "query": scored,
                "functions": functions,
                "score_mode": "multiply",
                "boost_mode": "multiply",
            }
        }
    body: Json = {
        "query": scored,
        "size": request.size,
        "track_total_hits": True,
        "sort": _sort(spec, request),
    }
    if request.facets:
        body["aggs"] = {
            name: {
                "terms": {
                    "field": name,
                    "size": request.facet_size,
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
            for name in request.facets
        }
    if request.highlight:
        body["highlight"] = {
            **MARK,
            "fields": {
                name: {"number_of_fragments": 3, "fragment_size": 150} for name in request.highlight
            },
        }
    return body


def _sort(spec: IndexSpec, request: SearchRequest) -> list[Json]:
    if request.sort == "recent":
        assert spec.recency_field is not None  # checked by check_request
        return [
            {spec.recency_field: {"order": "desc", "missing": "_last"}},
            {"doc_id": {"order": "asc"}},
        ]
    return [{"_score": {"order": "desc"}}, {"doc_id": {"order": "asc"}}]


def parse_search(raw: Json, request: SearchRequest, now: float) -> SearchResponse:
    rows = raw["hits"]["hits"]
    hits = [
        Hit(
            id=row["_id"],
            score=float(row.get("_score") or 0.0),
            source={k: v for k, v in row["_source"].items() if k not in ("doc_id", "deleted")},
            highlights=row.get("highlight", {}),
        )
        for row in rows
    ]
    facets = {
        name: [FacetCount(str(b["key"]), int(b["doc_count"])) for b in agg["buckets"]]
        for name, agg in raw.get("aggregations", {}).items()
    }
    next_cursor = None
    if rows and len(rows) == request.size:
        next_cursor = cursors.encode(cursors.Cursor(tuple(rows[-1]["sort"]), now))
    return SearchResponse(
        hits=hits,
        total=int(raw["hits"]["total"]["value"]),
        facets=facets,
        next_cursor=next_cursor,
    )


def suggest_body(
    spec: IndexSpec,
    prefix: str,
    audiences: Sequence[str],
    filters: Mapping[str, Sequence[FilterValue]],
    limit: int,
) -> Json:
    clauses, must_not = visibility(spec, audiences, filters)
    fields = [f"{f.name}.prefix^{f.boost}" for f in spec.of_type("typeahead")]
    return {
        "query": {
            "bool": {
                "filter": clauses,
                "must_not": must_not,
                "must": [{"multi_match": {"query": prefix, "fields": fields, "operator": "and"}}],
            }
        },
        "size": min(limit, 100),
        "sort": [{"_score": {"order": "desc"}}, {"doc_id": {"order": "asc"}}],
    }


def parse_suggest(raw: Json, spec: IndexSpec) -> list[Suggestion]:
    typeahead = [f.name for f in spec.of_type("typeahead")]
    suggestions = []
    for row in raw["hits"]["hits"]:
        source = {k: v for k, v in row["_source"].items() if k not in ("doc_id", "deleted")}
        name = next((n for n in typeahead if source.get(n)), typeahead[0])
        suggestions.append(Suggestion(row["_id"], str(source.get(name, "")), name, source))
    return suggestions

"""SQL for SqliteSearchIndex reads: FTS5 MATCH expressions, ranking, facets, suggestions.

Ranking (sort=relevance) mirrors OpenSearchIndex's function_score:
  score = -bm25(column weights) * (1 + phrase_boost if the whole query is a phrase match)
          * 0.5 ** ((age_days / recency_scale_days) ** 2)      (gauss decay, 1 if no date)
          * log10(2 + engagement_factor * engagement)            (field_value_factor log2p)
Every condition, the audience one included, is SQL over the whole match set, so totals and
facet counts never come from a post-filtered page.
"""

# Identifiers in SQL text are index and field names checked by IndexSpec's patterns;
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.search import cursor as cursors
from shared.search.checks import FILTERABLE, check_request, field_type
from shared.search.errors import SearchQueryError
from shared.search.port import (
    FacetCount,
    FieldType,
    FilterValue,
    Hit,
    IndexSpec,
    Query,
    SearchRequest,
    SearchResponse,
    Suggestion,
)
from shared.search.sqlite_fuzzy import close_terms
from shared.search.synonyms import expand, meaningful
from shared.search.values import InvalidValue, to_epoch

Synonyms = dict[str, tuple[str, ...]]
_NO_DATE = -1e300
# Typeahead ranks at most this many visible matches of a prefix (the newest), see suggest().
SUGGEST_CANDIDATES = 500


def phrase(text: str) -> str:
    # FTS5 ends a string at NUL ("unterminated string"); no indexed text holds one anyway.
    return '"' + text.replace("\x00", "").replace('"', '""') + '"'


def match_expression(
    query: Query, spec: IndexSpec, synonyms: Synonyms, fuzzy: Callable[[str], list[str]] | None
) -> str | None:
    parts = []
    for term in query.terms:
        if meaningful(term):
            alternatives = list(expand(term, synonyms))
            if fuzzy is not None:
                alternatives += [c for a in alternatives if " " not in a for c in fuzzy(a)]
            parts.append("(" + " OR ".join(phrase(a) for a in alternatives) + ")")
    for term in query.phrases:
        if meaningful(term):
            parts.append("(" + " OR ".join(phrase(a) for a in expand(term, synonyms)) + ")")
    for ft in query.field_terms:
        if spec.field(ft.field).type in ("text", "typeahead") and meaningful(ft.value):
            parts.append(f"{{{ft.field}}} : {phrase(ft.value)}")
    return " AND ".join(parts) or None


def _value(kind: FieldType, value: FilterValue) -> Any:
    try:
        if kind == "date":
            return to_epoch(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            return int(value if isinstance(value, bool) else str(value).lower() == "true")
        return str(value)
    except (InvalidValue, ValueError) as exc:
        raise SearchQueryError(f"bad filter value {value!r}: {exc}") from None


class _Where:
    """The conditions on `d` (the documents table) shared by hits, totals and facets."""

    def __init__(self, p: str, audiences: Sequence[str]) -> None:
        self.p = p
        self.sql = [f"d.deleted = 0 AND d.audience IN ({','.join('?' * len(audiences))})"]
        self.params: list[Any] = list(audiences)

    def terms(self, field: str, values: Sequence[Any]) -> None:
        self.sql.append(
            f'EXISTS (SELECT 1 FROM "{self.p}__terms" t WHERE t.rid = d.rid AND t.field = ? '
            f"AND t.value IN ({','.join('?' * len(values))}))"
        )
        self.params += [field, *values]

    def fts(self, expression: str, *, negate: bool = False) -> None:
        op = "NOT IN" if negate else "IN"
        self.sql.append(
            f'd.rid {op} (SELECT rowid FROM "{self.p}__fts" WHERE "{self.p}__fts" MATCH ?)'
        )
        self.params.append(expression)

    def text(self) -> str:
        return " AND ".join(self.sql)


def _where(p: str, spec: IndexSpec, request: SearchRequest, synonyms: Synonyms) -> _Where:
    where = _Where(p, request.audiences)
    for name, values in request.filters.items():
        kind = spec.field(name).type
        where.terms(name, [_value(kind, v) for v in values] or [None])
    for ft in request.query.field_terms:
        kind = spec.field(ft.field).type
        if kind in FILTERABLE:
            where.terms(ft.field, [_value(kind, ft.value)])
    if (dr := request.date_range) is not None:
        where.sql.append(
            f'EXISTS (SELECT 1 FROM "{p}__terms" t WHERE t.rid = d.rid AND t.field = ? '
            "AND t.value >= ? AND t.value < ?)"
        )
        where.params += [
            dr.field,
            _NO_DATE if dr.gte is None else dr.gte.timestamp(),
            -_NO_DATE if dr.lt is None else dr.lt.timestamp(),
        ]
    excluded = [e for e in request.query.excluded if meaningful(e)]
    if excluded:
        alternatives = [a for e in excluded for a in expand(e, synonyms)]
        where.fts(" OR ".join(phrase(a) for a in alternatives), negate=True)
    return where


def search(
    conn: sqlite3.Connection,
    p: str,
    spec: IndexSpec,
    request: SearchRequest,
    synonyms: Synonyms,
) -> SearchResponse:
    check_request(spec, request)
    if not request.audiences:
        return SearchResponse(hits=[], total=0)
    after = cursors.decode(request.search_after) if request.search_after else None
    now = after.now if after else time.time()
    where = _where(p, spec, request, synonyms)
    fuzzy = (lambda term: close_terms(conn, p, term)) if request.fuzzy else None
    expression = match_expression(request.query, spec, synonyms, fuzzy)
    text = spec.of_type("text", "typeahead")
    boosts = request.relevance.field_boosts
    if expression is not None:
        weights = ", ".join(str(float(boosts.get(f.name, f.boost))) for f in text)
        source = f'"{p}__fts" f JOIN "{p}" d ON d.rid = f.rowid'
        conds = f'"{p}__fts" MATCH ? AND {where.text()}'
        params: list[Any] = [expression, *where.params]
        text_score = f'-bm25("{p}__fts", {weights})'
    else:
        source, conds, params, text_score = f'"{p}" d', where.text(), list(where.params), "1.0"

    score, score_params = _score(p, spec, request, text_score, now, synonyms)
    key = "score" if request.sort == "relevance" else f"COALESCE(recency, {_NO_DATE})"
    ranked = (
        f"SELECT d.rid AS rid, d.id AS id, d.source AS source, d.recency AS recency, "
        f"{score} AS score FROM {source} WHERE {conds}"
    )
    outer = f"SELECT rid, id, source, score, {key} AS k FROM ({ranked})"
    outer_params = [*score_params, *params]
    if after is not None:
        outer += " WHERE k < ? OR (k = ? AND id > ?)"
        outer_params += [after.key[0], after.key[0], after.key[1]]
    outer += " ORDER BY k DESC, id ASC LIMIT ?"
    rows = conn.execute(outer, [*outer_params, request.size]).fetchall()

    matched = f"SELECT d.rid FROM {source} WHERE {conds}"
    if request.facets:  # one evaluation of the match set for the total and every facet
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS matched (rid INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.matched")
        conn.execute(f"INSERT INTO temp.matched {matched}", params)
        matched, params = "SELECT rid FROM temp.matched", []
    total = int(conn.execute(f"SELECT COUNT(*) FROM ({matched})", params).fetchone()[0])
    highlights = _highlights(conn, p, spec, request, expression, [r[0] for r in rows])
    hits = [
        Hit(
            id=r[1], score=float(r[3]), source=json.loads(r[2]), highlights=highlights.get(r[0], {})
        )
        for r in rows
    ]
    next_cursor = None
    if rows and len(rows) == request.size:
        next_cursor = cursors.encode(cursors.Cursor((rows[-1][4], rows[-1][1]), now))
    facets = {
        name: _facet(conn, p, name, matched, params, request.facet_size) for name in request.facets
    }
    return SearchResponse(hits=hits, total=total, facets=facets, next_cursor=next_cursor)


def _score(
    p: str, spec: IndexSpec, request: SearchRequest, text_score: str, now: float, syn: Synonyms
) -> tuple[str, list[Any]]:
    if request.sort != "relevance":
        return "0.0", []
    relevance = request.relevance
    factors, params = [text_score], []
    words = [t for t in request.query.terms if meaningful(t)]
    if len(words) > 1 and relevance.phrase_boost:
        factors.append(
            f'(CASE WHEN d.rid IN (SELECT rowid FROM "{p}__fts" WHERE "{p}__fts" MATCH ?) '
            "THEN ? ELSE 1.0 END)"
        )
        params += [phrase(" ".join(words)), 1.0 + relevance.phrase_boost]
    if relevance.recency_scale_days is not None and spec.recency_field is not None:
        factors.append(
            "(CASE WHEN d.recency IS NULL THEN 1.0 "
            "ELSE pow(0.5, pow(max(? - d.recency, 0) / 86400.0 / ?, 2)) END)"
        )
        params += [now, relevance.recency_scale_days]
    if relevance.engagement_field is not None:
        factors.append(
            f'log10(2 + ? * COALESCE((SELECT max(t.value) FROM "{p}__terms" t '
            "WHERE t.rid = d.rid AND t.field = ?), 0))"
        )
        params += [relevance.engagement_factor, relevance.engagement_field]
    return " * ".join(factors), params


def _highlights(
    conn: sqlite3.Connection,
    p: str,
    spec: IndexSpec,
    request: SearchRequest,
    expression: str | None,
    rids: list[int],
) -> dict[int, dict[str, list[str]]]:
    if expression is None or not request.highlight or not rids:
        return {}
    columns = [f.name for f in spec.of_type("text", "typeahead")]
    selected = [columns.index(name) for name in request.highlight]
    snippets = ", ".join(
        f"snippet(\"{p}__fts\", {i}, '<mark>', '</mark>', '…', 24)" for i in selected
    )
    rows = conn.execute(
        f'SELECT rowid, {snippets} FROM "{p}__fts" WHERE "{p}__fts" MATCH ? '
        f"AND rowid IN ({','.join('?' * len(rids))})",
        [expression, *rids],
    ).fetchall()
    return {
        row[0]: {
            columns[i]: [fragment]
            for i, fragment in zip(selected, row[1:], strict=True)
            if fragment and "<mark>" in fragment
        }
        for row in rows
    }


def _facet(
    conn: sqlite3.Connection, p: str, name: str, matched: str, params: list[Any], size: int
) -> list[FacetCount]:
    rows = conn.execute(
        f'SELECT t.value, COUNT(*) AS c FROM ({matched}) m CROSS JOIN "{p}__terms" t '
        "ON t.rid = m.rid AND t.field = ? "
        "GROUP BY t.value ORDER BY c DESC, t.value ASC LIMIT ?",
        [*params, name, size],
    ).fetchall()
    return [FacetCount(str(value), int(count)) for value, count in rows]


def suggest(
    conn: sqlite3.Connection,
    p: str,
    spec: IndexSpec,
    prefix: str,
    audiences: Sequence[str],
    filters: Mapping[str, Sequence[FilterValue]],
    limit: int,
) -> list[Suggestion]:
    typeahead = [f.name for f in spec.of_type("typeahead")]
    words = [w for w in prefix.split() if meaningful(w)]
    if not typeahead or not words or not audiences or limit <= 0:
        return []
    where = _Where(p, audiences)
    for name, values in filters.items():
        kind = field_type(spec, name, FILTERABLE, "a filter")
        where.terms(name, [_value(kind, v) for v in values] or [None])
    expression = " AND ".join(phrase(w) + "*" for w in words)
    params = [expression, *where.params]
    matches = (
        f'FROM "{p}__ta" ta JOIN "{p}" d ON d.rid = ta.rowid '
        f'WHERE "{p}__ta" MATCH ? AND {where.text()}'
    )
    # A short prefix can match most documents, and scoring them all is what made typeahead
    # slow: past SUGGEST_CANDIDATES visible matches only the most recently indexed ones are
    # ranked. FTS5 walks its doclist newest first and stops there (no sort, no scoring).
    oldest = conn.execute(
        f"SELECT ta.rowid {matches} ORDER BY ta.rowid DESC LIMIT 1 OFFSET ?",
        [*params, SUGGEST_CANDIDATES - 1],
    ).fetchone()
    if oldest is not None:
        matches += " AND ta.rowid >= ?"
        params.append(oldest[0])
    # Rank ids only; the JSON sources of the few shown are read afterwards.
    rows = conn.execute(
        f'SELECT d.id, d.source FROM (SELECT d.rid AS rid, d.id AS id, bm25("{p}__ta") AS score '
        f"{matches} ORDER BY score, d.id LIMIT ?) top "
        f'JOIN "{p}" d ON d.rid = top.rid ORDER BY top.score, top.id',
        [*params, min(limit, 100)],
    ).fetchall()
    suggestions = []
    for doc_id, raw in rows:
        source = json.loads(raw)
        name = next((n for n in typeahead if source.get(n)), typeahead[0])
        suggestions.append(Suggestion(doc_id, str(source.get(name, "")), name, source))
    return suggestions

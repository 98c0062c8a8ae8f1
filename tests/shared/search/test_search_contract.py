"""The SearchIndex contract: every adapter passes these same tests.

Decisions the contract pins down (and both adapters implement):
- External versions: a write at a version <= the stored one (document or tombstone) is
  ignored and counted as `stale`; deletes leave a versioned tombstone.
- The audience filter bounds everything a caller can observe: hits, totals, facet
  counts, highlights, suggestions and counts.
- Synonyms are expanded at query time, so an update takes effect without a reindex.
- Behaviours beyond the common ground (typo tolerance, did-you-mean) are asserted where
  `index.capabilities` claims them, and asserted absent where it does not.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from search_support import posts_spec

from shared.search import (
    DateRange,
    FieldTerm,
    IndexedDoc,
    IndexSpec,
    Query,
    Relevance,
    SearchIndex,
    SearchQueryError,
    SearchRequest,
    SearchResponse,
    Tombstone,
)

NOW = datetime.now(UTC)
NO_DECAY = Relevance(recency_scale_days=None, phrase_boost=0)


def post(title: str = "", body: str = "", **fields: Any) -> dict[str, Any]:
    return {
        "title": title,
        "body": body,
        "audience": "org",
        "author": "ana",
        "kind": "note",
        "topics": [],
        "created_at": NOW,
        **fields,
    }


async def put(index: SearchIndex, alias: str, docs: dict[str, dict[str, Any]], v: int = 1) -> None:
    result = await index.upsert(alias, [IndexedDoc(i, v, body) for i, body in docs.items()])
    assert result.rejected == ()
    await index.refresh(alias)


async def find(
    index: SearchIndex,
    alias: str,
    *terms: str,
    audiences: Sequence[str] = ("org",),
    **options: Any,
) -> SearchResponse:
    query = options.pop("query", Query(terms=terms))
    return await index.search(alias, SearchRequest(query=query, audiences=audiences, **options))


def ids(response: SearchResponse) -> list[str]:
    return [hit.id for hit in response.hits]


# -- indexes ---------------------------------------------------------------------------


async def test_ensure_is_idempotent(index: SearchIndex, spec: IndexSpec) -> None:
    await put(index, spec.alias, {"p1": post("Lunch menu")})
    await index.ensure(spec)
    await index.ensure(spec)

    assert ids(await find(index, spec.alias, "lunch")) == ["p1"]
    assert await index.count(spec.alias) == 1


async def test_versioned_swap_keeps_searches_working(index: SearchIndex, spec: IndexSpec) -> None:
    await put(index, spec.alias, {"old": post("Canteen reopening")})
    physical = await index.create_version(spec)
    assert physical.startswith(spec.alias + "-")
    await put(index, physical, {"old": post("Canteen reopening"), "new": post("Canteen menu")})

    stop = asyncio.Event()
    seen: list[int] = []

    async def keep_searching() -> None:
        while not stop.is_set():
            seen.append((await find(index, spec.alias, "canteen")).total)
            await asyncio.sleep(0)

    searcher = asyncio.create_task(keep_searching())
    await asyncio.sleep(0.05)
    await index.swap_alias(spec.alias, physical)
    await asyncio.sleep(0.05)
    stop.set()
    await searcher

    assert seen and all(total >= 1 for total in seen)
    assert sorted(ids(await find(index, spec.alias, "canteen"))) == ["new", "old"]
    await put(index, spec.alias, {"later": post("Canteen hours")})
    assert (await find(index, spec.alias, "canteen")).total == 3


# -- matching --------------------------------------------------------------------------


async def test_query_terms_phrases_exclusions_and_field_terms(
    index: SearchIndex, spec: IndexSpec
) -> None:
    await put(
        index,
        spec.alias,
        {
            "a": post("Coffee machine broken", "the coffee machine on floor 2", author="ana"),
            "b": post("Machine learning", "a coffee break talk about machine models", author="bo"),
            "c": post("Decaf coffee machine", "decaf only", author="bo"),
            "d": post("Budget", "coffee budget for the year", author="cy"),
        },
    )

    assert sorted(ids(await find(index, spec.alias, "coffee", "machine"))) == ["a", "b", "c"]
    phrase = await find(index, spec.alias, query=Query(phrases=("coffee machine",)))
    assert sorted(ids(phrase)) == ["a", "c"]
    excluded = await find(index, spec.alias, query=Query(terms=("coffee",), excluded=("decaf",)))
    assert sorted(ids(excluded)) == ["a", "b", "d"]
    by_author = Query(terms=("coffee",), field_terms=(FieldTerm("author", "bo"),))
    assert sorted(ids(await find(index, spec.alias, query=by_author))) == ["b", "c"]
    in_title = Query(field_terms=(FieldTerm("title", "budget"),))
    assert ids(await find(index, spec.alias, query=in_title)) == ["d"]
    assert (await find(index, spec.alias, "nothing-like-this")).total == 0


async def test_stemming_and_accent_folding(index: SearchIndex, spec: IndexSpec) -> None:
    await put(
        index,
        spec.alias,
        {"run": post("Lunch run", "we run at noon"), "cv": post("Mon résumé", "Crème brûlée")},
    )

    assert ids(await find(index, spec.alias, "running")) == ["run"]
    assert ids(await find(index, spec.alias, "resume")) == ["cv"]
    assert ids(await find(index, spec.alias, "creme", "brulee")) == ["cv"]
    assert ids(await find(index, spec.alias, "RÉSUMÉ")) == ["cv"]


async def test_filters_and_date_range(index: SearchIndex, spec: IndexSpec) -> None:
    await put(
        index,
        spec.alias,
        {
            "a": post("Tea", kind="note", topics=["drinks"], pinned=True),
            "b": post("Tea", kind="question", topics=["drinks", "health"]),
            "c": post("Tea", kind="article", topics=["health"], created_at=NOW - timedelta(9)),
        },
    )

    both = await find(index, spec.alias, "tea", filters={"kind": ["note", "question"]})
    assert sorted(ids(both)) == ["a", "b"]
    anded = await find(
        index, spec.alias, "tea", filters={"kind": ["question", "article"], "topics": ["drinks"]}
    )
    assert ids(anded) == ["b"]
    assert ids(await find(index, spec.alias, "tea", filters={"pinned": [True]})) == ["a"]
    recent = DateRange("created_at", gte=NOW - timedelta(days=1))
    assert sorted(ids(await find(index, spec.alias, "tea", date_range=recent))) == ["a", "b"]


async def test_facet_counts_follow_the_query_and_filters(
    index: SearchIndex, spec: IndexSpec
) -> None:
    await put(
        index,
        spec.alias,
        {
            "a": post("Tea time", topics=["drinks", "breaks"], kind="note"),
            "b": post("Tea tasting", topics=["drinks"], kind="question"),
            "c": post("Tea budget", topics=["money"], kind="note"),
            "d": post("Coffee", topics=["drinks"], kind="note"),
        },
    )

    response = await find(index, spec.alias, "tea", facets=["topics", "kind"])
    facets = {
        name: [(f.value, f.count) for f in counts] for name, counts in response.facets.items()
    }
    assert facets["topics"] == [("drinks", 2), ("breaks", 1), ("money", 1)]
    assert facets["kind"] == [("note", 2), ("question", 1)]
    assert response.total == 3
    filtered = await find(index, spec.alias, "tea", facets=["topics"], filters={"kind": ["note"]})
    assert [(f.value, f.count) for f in filtered.facets["topics"]] == [
        ("breaks", 1),
        ("drinks", 1),
        ("money", 1),
    ]


# -- versions and tombstones -----------------------------------------------------------


async def test_older_or_equal_versions_are_ignored(index: SearchIndex, spec: IndexSpec) -> None:
    await put(index, spec.alias, {"p": post("Version three")}, v=3)

    older = await index.upsert(spec.alias, [IndexedDoc("p", 2, post("Version two"))])
    same = await index.upsert(spec.alias, [IndexedDoc("p", 3, post("Version again"))])
    await index.refresh(spec.alias)

    assert (older.applied, older.stale, same.applied, same.stale) == (0, 1, 0, 1)
    [hit] = (await find(index, spec.alias, "version")).hits
    assert hit.source["title"] == "Version three"
    newer = await index.upsert(spec.alias, [IndexedDoc("p", 4, post("Version four"))])
    await index.refresh(spec.alias)
    assert newer.applied == 1
    assert [h.source["title"] for h in (await find(index, spec.alias, "version")).hits] == [
        "Version four"
    ]


async def test_a_tombstone_beats_a_late_older_upsert(index: SearchIndex, spec: IndexSpec) -> None:
    await put(index, spec.alias, {"p": post("Gone soon")}, v=1)
    deleted = await index.delete(spec.alias, [Tombstone("p", 3)])
    late = await index.upsert(spec.alias, [IndexedDoc("p", 2, post("Gone soon, edited"))])
    await index.refresh(spec.alias)

    assert (deleted.applied, late.stale) == (1, 1)
    assert (await find(index, spec.alias, "gone")).total == 0
    assert await index.count(spec.alias) == 0
    stale_delete = await index.delete(spec.alias, [Tombstone("p", 3)])
    assert stale_delete.stale == 1
    await put(index, spec.alias, {"p": post("Back again")}, v=4)
    assert ids(await find(index, spec.alias, "back")) == ["p"]


async def snapshot(index: SearchIndex, alias: str) -> list[tuple[str, Any]]:
    response = await find(index, alias, audiences=["org"], size=1000, query=Query())
    return sorted((hit.id, hit.source["body"]) for hit in response.hits)


async def test_shuffled_replay_with_duplicates_converges(index: SearchIndex) -> None:
    rng = random.Random(7)
    ops: list[tuple[str, str, int, str]] = []
    for n in range(200):
        doc_id = f"d{rng.randrange(25)}"
        kind = "delete" if rng.random() < 0.2 else "upsert"
        ops.append((kind, doc_id, n + 1, f"body {n} word{n % 7}"))
    replay = ops + rng.sample(ops, 60)
    rng.shuffle(replay)
    ordered, shuffled = posts_spec(), posts_spec()
    await index.ensure(ordered)
    await index.ensure(shuffled)
    try:
        for alias, sequence in ((ordered.alias, ops), (shuffled.alias, replay)):
            for chunk in range(0, len(sequence), 37):
                for kind, doc_id, version, body in sequence[chunk : chunk + 37]:
                    if kind == "delete":
                        await index.delete(alias, [Tombstone(doc_id, version)])
                    else:
                        await index.upsert(alias, [IndexedDoc(doc_id, version, post(body=body))])
            await index.refresh(alias)

        expected = await snapshot(index, ordered.alias)
        assert expected  # the scenario leaves live documents
        assert await snapshot(index, shuffled.alias) == expected
        assert await index.count(shuffled.alias) == len(expected)
    finally:
        await index.drop(ordered.alias)
        await index.drop(shuffled.alias)


async def test_rejected_documents_are_reported_and_others_indexed(
    index: SearchIndex, spec: IndexSpec
) -> None:
    result = await index.upsert(
        spec.alias,
        [
            IndexedDoc("good", 1, post("Fine")),
            IndexedDoc("bad-date", 1, post("Broken", created_at="not a date")),
            IndexedDoc("no-audience", 1, {"title": "Nowhere"}),
        ],
    )
    await index.refresh(spec.alias)

    assert result.applied == 1
    assert sorted(r.id for r in result.rejected) == ["bad-date", "no-audience"]
    assert all(r.reason for r in result.rejected)
    assert await index.count(spec.alias) == 1


# -- the audience boundary -------------------------------------------------------------


async def test_audiences_bound_hits_totals_facets_highlights_and_suggestions(
    index: SearchIndex, spec: IndexSpec
) -> None:
    await put(
        index,
        spec.alias,
        {
            "open": post("Zanzibar trip", "public zanzibar notes", topics=["travel"]),
            "secret": post(
                "Zanzibar merger",
                "zanzibar acquisition plan",
                audience="g-board",
                topics=["zanzibar-deal"],
            ),
        },
    )
    outsider = await find(
        index,
        spec.alias,
        "zanzibar",
        audiences=["org", "g-other"],
        facets=["topics"],
        highlight=["title", "body"],
    )
    assert ids(outsider) == ["open"] and outsider.total == 1
    assert [f.value for f in outsider.facets["topics"]] == ["travel"]
    shown = repr([(h.source, h.highlights) for h in outsider.hits])
    assert "merger" not in shown and "acquisition" not in shown
    browse = await find(index, spec.alias, query=Query(), facets=["topics"], audiences=["org"])
    assert "zanzibar-deal" not in [f.value for f in browse.facets["topics"]]
    suggestions = await index.suggest(spec.alias, "zanz", audiences=["org"])
    assert [s.id for s in suggestions] == ["open"]
    assert await index.count(spec.alias, audiences=["org"]) == 1

    member = await find(index, spec.alias, "zanzibar", audiences=["org", "g-board"])
    assert sorted(ids(member)) == ["open", "secret"]
    assert (await find(index, spec.alias, "zanzibar", audiences=[])).total == 0
    assert await index.suggest(spec.alias, "zanz", audiences=[]) == []


async def test_highlights_mark_the_matched_terms(index: SearchIndex, spec: IndexSpec) -> None:
    await put(index, spec.alias, {"p": post("Quarterly budget", "The budget is approved")})

    [hit] = (await find(index, spec.alias, "budget", highlight=["title", "body"])).hits
    assert "<mark>budget</mark>" in " ".join(hit.highlights["title"])
    assert "<mark>budget</mark>" in " ".join(hit.highlights["body"])


async def test_search_many_answers_each_search_as_search_would(
    index: SearchIndex, spec: IndexSpec
) -> None:
    # The search service asks every family index at once (OpenSearch: one _msearch).
    other = posts_spec()
    await index.ensure(other)
    try:
        await put(
            index,
            spec.alias,
            {
                "a": post("Budget plan", "the budget for 2027", topics=["finance"]),
                "b": post("Budget review", "a budget review", audience="g-board"),
                "c": post("Hiring plan", "plan the hiring", topics=["people"]),
            },
        )
        await put(index, other.alias, {"x": post("Budget template", "budget sheet")})
        queries = [
            (
                spec.alias,
                SearchRequest(
                    query=Query(terms=("budget",)),
                    audiences=("org",),
                    facets=["topics"],
                    highlight=["title", "body"],
                ),
            ),
            (other.alias, SearchRequest(query=Query(terms=("budget",)), audiences=("org",))),
            (spec.alias, SearchRequest(query=Query(terms=("budget",)), audiences=())),
            (spec.alias, SearchRequest(query=Query(terms=("plan",)), audiences=("org",), size=1)),
            (spec.alias, SearchRequest(query=Query(), audiences=("org", "g-board"))),
        ]
        many = await index.search_many(queries)
        singles = [await index.search(alias, request) for alias, request in queries]

        def seen(r: SearchResponse) -> tuple[Any, ...]:
            hits = [(h.id, h.source, dict(h.highlights)) for h in r.hits]
            return (hits, r.total, r.facets, r.next_cursor is None)

        assert [seen(r) for r in many] == [seen(r) for r in singles]
        assert [ids(r) for r in many[:3]] == [["a"], ["x"], []]
        assert many[3].next_cursor is not None and many[4].total == 3
        with pytest.raises(SearchQueryError):
            bad = SearchRequest(query=Query(), audiences=("org",), facets=["nope"])
            await index.search_many([queries[1], (spec.alias, bad)])
    finally:
        await index.drop(other.alias)


# -- ranking and order -----------------------------------------------------------------


async def test_relevance_boosts_title_over_body_and_exact_phrases(
    index: SearchIndex, spec: IndexSpec
) -> None:
    await put(
        index,
        spec.alias,
        {
            "in-body": post("Notes", "notes about the parking rules and more"),
            "in-title": post("Parking", "notes about rules and more"),
        },
    )
    assert ids(await find(index, spec.alias, "parking", relevance=NO_DECAY)) == [
        "in-title",
        "in-body",
    ]

    await put(
        index,
        spec.alias,
        {
            "scattered": post("Report", "the team was new and this year brought change"),
            "phrase": post("Report", "a new team this year brought change"),
        },
    )
    ranked = await find(
        index, spec.alias, "new", "team", relevance=Relevance(recency_scale_days=None)
    )
    assert ids(ranked)[0] == "phrase"


async def test_recency_decay_and_engagement_reorder_equal_matches(
    index: SearchIndex, spec: IndexSpec
) -> None:
    await put(
        index,
        spec.alias,
        {
            "old": post("Fire drill", created_at=NOW - timedelta(days=60)),
            "new": post("Fire drill", created_at=NOW - timedelta(days=1)),
        },
    )
    decayed = await find(index, spec.alias, "drill", relevance=Relevance(recency_scale_days=10))
    assert ids(decayed) == ["new", "old"]

    await put(
        index,
        spec.alias,
        {
            "liked": post("Pizza day", likes=500),
            "ignored": post("Pizza day", likes=0),
        },
    )
    engaged = Relevance(recency_scale_days=None, engagement_field="likes")
    assert ids(await find(index, spec.alias, "pizza", relevance=engaged)) == ["liked", "ignored"]


async def test_sort_recent(index: SearchIndex, spec: IndexSpec) -> None:
    await put(
        index,
        spec.alias,
        {f"p{n}": post(f"Update {n}", created_at=NOW - timedelta(hours=n)) for n in (3, 1, 2)},
    )

    assert ids(await find(index, spec.alias, "update", sort="recent")) == ["p1", "p2", "p3"]


@pytest.mark.parametrize("sort", ["relevance", "recent"])
async def test_search_after_pages_without_loss_or_repeat(
    index: SearchIndex, spec: IndexSpec, sort: str
) -> None:
    docs = {
        f"p{n:02d}": post(
            f"Weekly news {n}", "news " * (n % 4 + 1), created_at=NOW - timedelta(minutes=n % 5)
        )
        for n in range(47)
    }
    await put(index, spec.alias, docs)

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await find(index, spec.alias, "news", size=10, sort=sort, search_after=cursor)
        assert page.total == 47
        seen += ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 47


async def test_suggest_by_prefix(index: SearchIndex, spec: IndexSpec) -> None:
    await put(
        index,
        spec.alias,
        {
            "b": post("Budget planning 2026"),
            "c": post("Budapest office opening"),
            "d": post("Quarterly planning", kind="article"),
        },
    )

    assert sorted(s.id for s in await index.suggest(spec.alias, "bud", audiences=["org"])) == [
        "b",
        "c",
    ]
    [only] = await index.suggest(spec.alias, "budget pla", audiences=["org"])
    assert (only.id, only.text, only.field) == ("b", "Budget planning 2026", "title")
    articles = await index.suggest(
        spec.alias, "plan", audiences=["org"], filters={"kind": ["article"]}
    )
    assert [s.id for s in articles] == ["d"]
    assert len(await index.suggest(spec.alias, "b", audiences=["org"], limit=1)) == 1


async def test_synonym_updates_apply_without_reindex(index: SearchIndex, spec: IndexSpec) -> None:
    assert spec.synonyms is not None
    await put(index, spec.alias, {"cv": post("My résumé"), "js": post("Learning javascript")})
    assert (await find(index, spec.alias, "cv")).total == 0

    await index.update_synonyms(spec.synonyms, ["cv, résumé", "js => javascript"])
    assert ids(await find(index, spec.alias, "cv")) == ["cv"]
    assert ids(await find(index, spec.alias, "js")) == ["js"]
    assert ids(await find(index, spec.alias, "resume")) == ["cv"]

    await index.update_synonyms(spec.synonyms, [])
    assert (await find(index, spec.alias, "cv")).total == 0


# -- capabilities ----------------------------------------------------------------------


async def test_typo_tolerance_only_where_claimed(index: SearchIndex, spec: IndexSpec) -> None:
    await put(index, spec.alias, {"m": post("Printer maintenance", "the printer is fixed")})

    for typo in ("pinter", "pirnter"):
        fuzzy = await find(index, spec.alias, typo, fuzzy=True)
        assert ids(fuzzy) == (["m"] if index.capabilities.fuzzy else []), typo
    assert (await find(index, spec.alias, "pxxxter", fuzzy=True)).total == 0
    assert (await find(index, spec.alias, "pinter")).total == 0
    if index.capabilities.did_you_mean:
        assert (await find(index, spec.alias, "pinter")).suggestion == "printer"
    else:
        assert (await find(index, spec.alias, "pinter")).suggestion is None


# -- misuse ----------------------------------------------------------------------------


async def test_bad_requests_raise_query_errors(index: SearchIndex, spec: IndexSpec) -> None:
    bad = [
        {"facets": ["nope"]},
        {"facets": ["body"]},
        {"filters": {"missing": ["x"]}},
        {"highlight": ["author"]},
        {"search_after": "not-a-cursor"},
        {"filters": {"created_at": ["yesterday"]}},
    ]
    for options in bad:
        with pytest.raises(SearchQueryError):
            await find(index, spec.alias, "x", **options)

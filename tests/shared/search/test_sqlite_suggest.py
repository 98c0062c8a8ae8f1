"""SqliteSearchIndex typeahead past its candidate bound: the newest visible matches, ranked.

A prefix matching more than `SUGGEST_CANDIDATES` visible documents ranks only the most
recently indexed of them (docs/search.md, embedded differences). The bound counts visible
documents only, so a private group's posts neither show nor crowd out what a caller may see.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from search_support import posts_spec

import shared.search.sqlite_query as sqlite_query
from shared.search import IndexedDoc
from shared.search.sqlite import SqliteSearchIndex

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def doc(doc_id: str, title: str, audience: str = "org") -> IndexedDoc:
    body = {"title": title, "body": "", "audience": audience, "author": "ana", "kind": "note"}
    return IndexedDoc(doc_id, 1, {**body, "topics": [], "created_at": NOW})


async def test_a_common_prefix_ranks_the_newest_visible_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_query, "SUGGEST_CANDIDATES", 3)
    index = SqliteSearchIndex(tmp_path / "search.db")
    spec = posts_spec()
    await index.ensure(spec)
    try:
        await index.upsert(
            spec.alias,
            [
                doc("old-short", "Parking"),  # the best match by score, but the oldest
                doc("mid", "Parking rules for the garage"),
                doc("new-1", "Parking spots and more words"),
                doc("new-2", "Parking permits for visitors today"),
                doc("secret-1", "Parking merger plan", audience="g-board"),
                doc("secret-2", "Parking acquisition", audience="g-board"),
            ],
        )
        outsider = await index.suggest(spec.alias, "park", audiences=["org"])
        assert sorted(s.id for s in outsider) == ["mid", "new-1", "new-2"]
        member = await index.suggest(spec.alias, "park", audiences=["org", "g-board"])
        assert sorted(s.id for s in member) == ["new-2", "secret-1", "secret-2"]
        # Fewer matches than the bound: every one of them is ranked.
        garage = await index.suggest(spec.alias, "parking gar", audiences=["org"])
        assert [s.id for s in garage] == ["mid"]
        few = await index.suggest(spec.alias, "park", audiences=["org"], filters={"kind": ["x"]})
        assert few == []
    finally:
        await index.close()

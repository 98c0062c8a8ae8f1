"""Fixtures of the SearchIndex contract suite: one `index` per adapter, the same tests for both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from search_support import posts_spec

from shared.search import IndexSpec, SearchIndex
from shared.search.opensearch import OpenSearchIndex
from shared.search.sqlite import SqliteSearchIndex
from tests.support import engine_address


@pytest.fixture(params=["sqlite", pytest.param("opensearch", marks=pytest.mark.engines)])
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchIndex]:
    adapter: SearchIndex
    if request.param == "sqlite":
        adapter = SqliteSearchIndex(tmp_path / "search.db")
    else:
        adapter = OpenSearchIndex(engine_address("opensearch"), retry_attempts=3)
    await adapter.ping()
    yield adapter
    await adapter.close()


@pytest.fixture
async def spec(index: SearchIndex) -> AsyncIterator[IndexSpec]:
    spec = posts_spec()
    await index.ensure(spec)
    yield spec
    await index.drop(spec.alias)
    if spec.synonyms is not None:
        await index.update_synonyms(spec.synonyms, [])

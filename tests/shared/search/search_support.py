"""Helpers of the SearchIndex contract suite."""

from __future__ import annotations

import uuid

from shared.search import FieldSpec, IndexSpec


def posts_spec(alias: str | None = None) -> IndexSpec:
    """A posts-like index: title (typeahead) > tags > body, facets on author/kind/topics."""
    return IndexSpec(
        alias=alias or f"test-posts-{uuid.uuid4().hex[:12]}",
        fields=(
            FieldSpec("title", "typeahead", boost=3.0),
            FieldSpec("tags", "text", boost=2.0),
            FieldSpec("body", "text"),
            FieldSpec("author", "keyword"),
            FieldSpec("kind", "keyword"),
            FieldSpec("topics", "keyword"),
            FieldSpec("created_at", "date"),
            FieldSpec("likes", "number"),
            FieldSpec("pinned", "boolean"),
        ),
        recency_field="created_at",
        synonyms=f"test-syn-{uuid.uuid4().hex[:12]}",
    )

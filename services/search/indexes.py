"""The four logical indexes (aliases) and their fields: posts, resources, people, groups.

Every alias is `<prefix>-<name>` (prefix `canteen` in production; tests use their own) and
points at one physical index `<alias>-NNNNNN` (see shared/search/port.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.search import FieldSpec, IndexSpec

FAMILIES = ("posts", "resources", "people", "groups")

_POST_FIELDS = (
    FieldSpec("title", "typeahead", boost=3.0),
    FieldSpec("text", "text", boost=1.0),
    FieldSpec("answers", "text", boost=0.8),
    FieldSpec("accepted_answer", "text", boost=1.2),
    FieldSpec("topic_words", "text", boost=2.0),
    FieldSpec("author_name", "text", boost=0.5),
    FieldSpec("type", "keyword"),
    FieldSpec("topic", "keyword"),
    FieldSpec("author", "keyword"),
    FieldSpec("group", "keyword"),
    FieldSpec("department", "keyword"),
    FieldSpec("state", "keyword"),
    FieldSpec("url", "keyword"),
    FieldSpec("resource_type", "keyword"),
    FieldSpec("created_at", "date"),
    FieldSpec("engagement", "number"),
    FieldSpec("accepted", "boolean"),
)

_PEOPLE_FIELDS = (
    FieldSpec("name", "typeahead", boost=3.0),
    FieldSpec("handle_words", "typeahead", boost=2.0),
    FieldSpec("title", "text", boost=1.5),
    FieldSpec("topic_words", "text", boost=1.0),
    FieldSpec("type", "keyword"),
    FieldSpec("handle", "keyword"),
    FieldSpec("department", "keyword"),
    FieldSpec("topic", "keyword"),
    FieldSpec("expertise", "keyword"),
    FieldSpec("created_at", "date"),
)

_GROUP_FIELDS = (
    FieldSpec("name", "typeahead", boost=3.0),
    FieldSpec("description", "text", boost=1.0),
    FieldSpec("type", "keyword"),
    FieldSpec("slug", "keyword"),
    FieldSpec("group", "keyword"),
    FieldSpec("visibility", "keyword"),
    FieldSpec("created_at", "date"),
)


@dataclass(frozen=True)
class Indexes:
    """The specs of one deployment (prefix), by family name."""

    prefix: str = "canteen"

    def spec(self, family: str) -> IndexSpec:
        fields = {
            "posts": _POST_FIELDS,
            "resources": _POST_FIELDS,
            "people": _PEOPLE_FIELDS,
            "groups": _GROUP_FIELDS,
        }[family]
        return IndexSpec(
            alias=self.alias(family),
            fields=fields,
            recency_field="created_at",
            synonyms=self.synonyms,
        )

    @property
    def synonyms(self) -> str:
        """The synonym set's name: one set per deployment, shared by its four indexes."""
        return self.prefix

    def alias(self, family: str) -> str:
        if family not in FAMILIES:
            raise KeyError(family)
        return f"{self.prefix}-{family}"

    def all(self) -> list[IndexSpec]:
        return [self.spec(f) for f in FAMILIES]

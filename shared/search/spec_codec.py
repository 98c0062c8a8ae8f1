"""IndexSpec to and from JSON: stored with each physical index (SQLite table, OpenSearch _meta)."""

from __future__ import annotations

import json
from typing import Any

from shared.search.port import FieldSpec, IndexSpec


def spec_to_dict(spec: IndexSpec) -> dict[str, Any]:
    return {
        "alias": spec.alias,
        "fields": [[f.name, f.type, f.boost] for f in spec.fields],
        "recency_field": spec.recency_field,
        "synonyms": spec.synonyms,
        "version": spec.version,
    }


def spec_from_dict(data: dict[str, Any]) -> IndexSpec:
    return IndexSpec(
        alias=data["alias"],
        fields=tuple(FieldSpec(name, kind, boost) for name, kind, boost in data["fields"]),
        recency_field=data.get("recency_field"),
        synonyms=data.get("synonyms"),
        version=data.get("version", 1),
    )


def spec_to_json(spec: IndexSpec) -> str:
    return json.dumps(spec_to_dict(spec))


def spec_from_json(raw: str) -> IndexSpec:
    return spec_from_dict(json.loads(raw))

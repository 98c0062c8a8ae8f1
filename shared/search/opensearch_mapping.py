"""The index template OpenSearchIndex installs per alias: analysis, mappings, the spec in _meta.

Text fields: `canteen_text` (standard tokenizer, possessive + lowercase + asciifolding +
english stemmer). Typeahead fields are text too, with a `.prefix` subfield indexed as
edge n-grams and searched with `canteen_folded` (no stemming, so "runn" still prefixes
"running"). Keyword, date, number and boolean fields map to their OpenSearch types;
`doc_id` (keyword, the sort tiebreaker) and `deleted` (tombstones) are the adapter's own.
Mappings are not dynamic: undeclared body keys are kept in _source but not indexed.
"""

from __future__ import annotations

from typing import Any

from shared.search.port import IndexSpec
from shared.search.spec_codec import spec_to_dict

MAX_PREFIX = 20

ANALYSIS: dict[str, Any] = {
    "filter": {
        "canteen_possessive": {"type": "stemmer", "language": "possessive_english"},
        "canteen_stemmer": {"type": "stemmer", "language": "english"},
        "canteen_edge": {"type": "edge_ngram", "min_gram": 1, "max_gram": MAX_PREFIX},
    },
    "analyzer": {
        "canteen_text": {
            "tokenizer": "standard",
            "filter": ["canteen_possessive", "lowercase", "asciifolding", "canteen_stemmer"],
        },
        "canteen_folded": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
        "canteen_prefix": {
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", "canteen_edge"],
        },
    },
}

_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "analyzer": "canteen_text"},
    "typeahead": {
        "type": "text",
        "analyzer": "canteen_text",
        "fields": {
            "prefix": {
                "type": "text",
                "analyzer": "canteen_prefix",
                "search_analyzer": "canteen_folded",
            }
        },
    },
    "keyword": {"type": "keyword"},
    "date": {"type": "date"},
    "number": {"type": "double"},
    "boolean": {"type": "boolean"},
}


def template_name(alias: str) -> str:
    return f"canteen-{alias}"


def index_template(
    spec: IndexSpec, *, shards: int | None = None, replicas: int | None = None
) -> dict[str, Any]:
    settings: dict[str, Any] = {"analysis": ANALYSIS}
    if shards is not None:
        settings["number_of_shards"] = shards
    if replicas is not None:
        settings["number_of_replicas"] = replicas
    properties = {f.name: _TYPES[f.type] for f in spec.fields}
    properties["doc_id"] = {"type": "keyword"}
    properties["deleted"] = {"type": "boolean"}
    return {
        # `-0*`, not `-*`: the alias `a` must not claim the indexes of an alias `a-b`.
        "index_patterns": [f"{spec.alias}-0*"],
        "priority": 100,
        "template": {
            "settings": settings,
            "mappings": {
                "dynamic": False,
                "_meta": {"canteen_spec": spec_to_dict(spec)},
                "properties": properties,
            },
        },
    }

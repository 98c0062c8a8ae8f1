"""Topic normalisation: `#Kubernetes`, `kubernetes` and `#kübernetes` are one topic."""

from __future__ import annotations

import re
import unicodedata

_HASHTAG = re.compile(r"(?<![\w#])#([^\W_][\w-]{0,63})", re.UNICODE)
MAX_TOPICS = 20


def normalize_topic(raw: str) -> str:
    """Lower-case, accents folded, inner spaces and underscores as dashes."""
    folded = unicodedata.normalize("NFKD", raw.strip().lstrip("#"))
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[\s_]+", "-", ascii_only.lower()).strip("-")


def extract_topics(text: str, tags: list[str]) -> list[str]:
    """Explicit tags first, then hashtags from the text; de-duplicated, order kept."""
    seen: dict[str, None] = {}
    for raw in [*tags, *_HASHTAG.findall(text)]:
        topic = normalize_topic(raw)
        if topic:
            seen.setdefault(topic, None)
    return list(seen)[:MAX_TOPICS]

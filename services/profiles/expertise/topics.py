"""Topic and skill normalisation: `#Kubernetes`, `kubernetes` and `#kübernetes` are one.

A copy of the activity service's rule (`services/activity/topics.py`; services never import
each other): tests pin both to the same examples, so a skill slug, an activity topic and an
expertise topic always agree.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SLUG_CHARS = 64
_FORBIDDEN = re.compile(r"[/?#%:\\]")


class InvalidSkill(ValueError):
    """A skill or topic name that normalises to nothing usable (mapped to 422)."""


def normalize_topic(raw: str) -> str:
    """Lower-case, accents folded, inner spaces and underscores as dashes."""
    folded = unicodedata.normalize("NFKD", raw.strip().lstrip("#"))
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[\s_]+", "-", ascii_only.lower()).strip("-")


def slug(raw: str) -> str:
    """The normalised slug of a skill or topic name; raises InvalidSkill with the reason."""
    value = normalize_topic(raw)
    if not value:
        raise InvalidSkill(f"skill {raw!r} is empty once normalized (letters or digits needed)")
    if len(value) > MAX_SLUG_CHARS:
        raise InvalidSkill(f"skill {raw!r} is longer than {MAX_SLUG_CHARS} characters")
    # Slugs live in ids ("<person>:<skill>") and URL paths: keep separators out of them.
    if _FORBIDDEN.search(value) or not any(c.isalnum() for c in value):
        raise InvalidSkill(f"skill {raw!r} may not contain / ? # % : or backslash (got {value!r})")
    return value

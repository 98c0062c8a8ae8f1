"""Synonym rules applied at query time, the same way on every adapter.

Rules use the Solr syntax: `cv, résumé, curriculum vitae` (equivalent terms) or
`js, ecmascript => javascript` (the left side is searched as the right side). Matching
ignores case and accents; a multi-word entry matches a phrase and expands to a phrase.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def fold(text: str) -> str:
    """Lower case without accents: how terms are compared with synonym entries."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def parse_rules(rules: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Map each folded entry to the alternatives it is searched as (itself included)."""
    expansions: dict[str, list[str]] = {}
    for rule in rules:
        if "=>" in rule:
            left, right = rule.split("=>", 1)
            sources, targets = _entries(left), _entries(right)
        else:
            sources = targets = _entries(rule)
        if not sources or not targets:
            raise ValueError(f"empty synonym rule: {rule!r}")
        for source in sources:
            known = expansions.setdefault(fold(source), [])
            known.extend(t for t in targets if t not in known)
    return {key: tuple(values) for key, values in expansions.items()}


def expand(term: str, table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The alternatives a term (or phrase) is searched as; just itself without a rule."""
    return table.get(fold(term), (term,))


def _entries(side: str) -> list[str]:
    return [" ".join(e.split()) for e in side.split(",") if e.strip()]


def meaningful(term: str) -> bool:
    """Whether a term yields a token at all (punctuation-only terms are dropped)."""
    return any(c.isalnum() for c in term)

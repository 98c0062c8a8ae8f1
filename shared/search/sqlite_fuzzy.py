"""Typo tolerance for SqliteSearchIndex: terms of the index vocabulary within an edit distance.

Mirrors OpenSearch's `fuzziness: AUTO, prefix_length: 1`: no edits for terms of up to 2
characters, 1 edit up to 5, 2 beyond; the first character must match; a transposition
counts as one edit. Candidates come from the `fts5vocab` table over the FTS index, whose
terms are already stemmed and folded, so the comparison is with the folded query term.
"""

# ruff: noqa: S608

from __future__ import annotations

import sqlite3

from shared.search.synonyms import fold

MAX_EXPANSIONS = 20


def allowed_edits(term: str) -> int:
    return 0 if len(term) <= 2 else 1 if len(term) <= 5 else 2


def close_terms(conn: sqlite3.Connection, p: str, term: str) -> list[str]:
    word = fold(term)
    edits = allowed_edits(word)
    if not edits or not word.isalnum():
        return []
    rows = conn.execute(
        f'SELECT term, doc FROM "{p}__vocab" WHERE term >= ? AND term < ? '
        "AND length(term) BETWEEN ? AND ?",
        (word[0], chr(ord(word[0]) + 1), len(word) - edits, len(word) + edits),
    ).fetchall()
    scored = [
        (distance, -docs, candidate)
        for candidate, docs in rows
        if candidate != word and (distance := _osa(word, candidate, edits)) <= edits
    ]
    return [candidate for _, _, candidate in sorted(scored)[:MAX_EXPANSIONS]]


def _osa(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Levenshtein + adjacent transpositions), capped."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]

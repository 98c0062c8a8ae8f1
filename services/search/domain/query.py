"""The query language: words, "quoted phrases", -exclusions and field:value filters.

Pure: text in, `shared.search.Query` plus filters out, or `QuerySyntaxError`.

Decisions (docs/search.md):
- An unbalanced quote opens a phrase that runs to the end of the query (lenient: a user
  typing `"error budget` means the phrase), never an error.
- `name:value` with an unknown lower-case `name` is an error (422), so a typo such as
  `autor:ana` never silently searches for the word. Tokens that only look like a filter
  (`10:30`, `https://x`) stay words.
- Filters on keyword fields (`topic`, `type`, `state`, `group`, `department`, `author`)
  become exact filters; several values of one name are OR'ed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from shared.search import Query

MAX_QUERY_CHARS = 500
MAX_TOKENS = 32

FILTER_NAMES = frozenset({"author", "topic", "type", "group", "department", "state"})
TYPES = frozenset({"post", "note", "question", "resource", "article", "person", "group"})
STATES = frozenset({"open", "answered"})

_FILTER = re.compile(r"^([a-z]+):(.*)$", re.DOTALL)


class QuerySyntaxError(ValueError):
    """The query cannot be understood as written (the message says why, for a 422)."""


@dataclass(frozen=True)
class ParsedQuery:
    query: Query
    filters: dict[str, list[str]] = field(default_factory=dict)

    def text(self) -> str:
        """The free-text part as one string (for did-you-mean and typeahead)."""
        return " ".join([*self.query.terms, *self.query.phrases])


def normalize_topic(raw: str) -> str:
    """Same rule as the activity service: lower-case, accents folded, spaces as dashes."""
    folded = unicodedata.normalize("NFKD", raw.strip().lstrip("#"))
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[\s_]+", "-", ascii_only.lower()).strip("-")


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Split into (token, quoted) pairs; a quote may start mid-token (`author:"Ana B"`)."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        quoted = False
        buf = []
        while i < n and not text[i].isspace():
            if text[i] == '"':
                end = text.find('"', i + 1)
                end = n if end == -1 else end
                buf.append(text[i + 1 : end])
                quoted = True
                i = end + 1
            else:
                buf.append(text[i])
                i += 1
        token = "".join(buf)
        if token or quoted or i > start:
            out.append((token, quoted))
    return out


def parse_query(text: str) -> ParsedQuery:
    """Parse `text`; raise QuerySyntaxError for an unknown filter or an empty filter value."""
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    text = text.replace("\x00", " ")
    terms: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    filters: dict[str, list[str]] = {}
    tokens = _tokens(text)
    if len(tokens) > MAX_TOKENS:
        raise QuerySyntaxError(f"the query has more than {MAX_TOKENS} words")
    for raw, quoted in tokens:
        negate = raw.startswith("-") and len(raw) > 1
        token = raw[1:] if negate else raw
        match = _FILTER.match(token)
        if match and not match.group(2).startswith("//"):
            name, value = match.group(1), match.group(2).strip()
            if name not in FILTER_NAMES:
                known = ", ".join(sorted(FILTER_NAMES))
                raise QuerySyntaxError(f"unknown filter {name!r} (known: {known})")
            if negate:
                raise QuerySyntaxError(f"a filter cannot be excluded: -{name}:")
            filters.setdefault(name, []).append(_filter_value(name, value))
            continue
        words = _words(token)
        if not words:
            continue
        if negate:
            excluded.append(" ".join(words))
        elif quoted and len(words) > 1:
            phrases.append(" ".join(words))
        else:
            terms.extend(words)
    query = Query(terms=tuple(terms), phrases=tuple(phrases), excluded=tuple(excluded))
    return ParsedQuery(query=query, filters=filters)


def _words(token: str) -> list[str]:
    """Words of a token, without the punctuation that no analyser would keep."""
    return [w for w in re.split(r"[^\w'.+#-]+", token) if w.strip(".'-+#")]


def _filter_value(name: str, value: str) -> str:
    if not value:
        raise QuerySyntaxError(f"the filter {name}: needs a value")
    if len(value) > 200:
        raise QuerySyntaxError(f"the value of {name}: is too long")
    if name == "topic":
        return normalize_topic(value)
    if name == "type":
        value = value.lower()
        if value not in TYPES:
            raise QuerySyntaxError(f"unknown type {value!r} (known: {', '.join(sorted(TYPES))})")
    if name == "state":
        value = value.lower()
        if value not in STATES:
            raise QuerySyntaxError("state: is open or answered")
    return value

"""The SCIM filters we answer (RFC 7644 §3.4.2.2), as DocumentStore filters.

What identity providers send to match a user before creating it: `eq` on userName
(case-insensitive, as its schema says), externalId, id and active, joined with `and`.
Anything else is a 400 `invalidFilter`, never a silently different result.
"""

from __future__ import annotations

import json
import re
from typing import Any

from services.profiles.scim.errors import ScimError
from services.profiles.scim.mapping import CORE_USER
from shared.store.port import Filter

MAX_FILTER_CHARS = 1000
_CLAUSE = re.compile(
    r"\s*(?P<attr>[A-Za-z][\w:.-]*)\s+(?P<op>[A-Za-z]{2})\s+"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|true|false|null)\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"and\s", re.IGNORECASE)


def _user_name(value: Any) -> Filter:
    return {"scim.user_name_key": _string(value).lower()}


def _external_id(value: Any) -> Filter:
    return {"scim.external_id": _string(value)}


def _id(value: Any) -> Filter:
    return {"_id": _string(value)}


def _active(value: Any) -> Filter:
    if not isinstance(value, bool):
        raise ScimError(400, "active compares with true or false", "invalidFilter")
    return {"active": value}


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ScimError(400, "this attribute compares with a string", "invalidFilter")
    return value


_FIELDS = {"username": _user_name, "externalid": _external_id, "id": _id, "active": _active}


def parse_filter(text: str) -> Filter:
    """The store filter of a SCIM filter expression; ScimError 400 invalidFilter otherwise."""
    if len(text) > MAX_FILTER_CHARS:
        raise ScimError(400, f"filters are at most {MAX_FILTER_CHARS} characters", "invalidFilter")
    clauses: list[Filter] = []
    position = 0
    while True:
        match = _CLAUSE.match(text, position)
        if match is None:
            raise ScimError(400, f"unsupported filter {text!r}", "invalidFilter")
        clauses.append(_clause(match["attr"], match["op"], match["value"]))
        position = match.end()
        if position == len(text):
            break
        joiner = _AND.match(text, position)
        if joiner is None:
            raise ScimError(400, f"unsupported filter {text!r} (only 'and')", "invalidFilter")
        position = joiner.end()
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _clause(attr: str, op: str, raw: str) -> Filter:
    name = attr
    if name.lower().startswith(CORE_USER.lower() + ":"):
        name = name[len(CORE_USER) + 1 :]
    field = _FIELDS.get(name.lower())
    if field is None:
        raise ScimError(400, f"filtering on {attr} is not supported", "invalidFilter")
    if op.lower() != "eq":
        raise ScimError(400, f"operator {op} is not supported (only eq)", "invalidFilter")
    try:
        value = json.loads(raw)
    except ValueError:
        raise ScimError(400, f"invalid value {raw}", "invalidFilter") from None
    return field(value)

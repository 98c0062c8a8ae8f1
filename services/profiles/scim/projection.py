"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5) on a rendered SCIM User."""

from __future__ import annotations

import copy
from typing import Any

from services.profiles.scim.errors import ScimError
from services.profiles.scim.mapping import (
    CORE_ATTRIBUTES,
    CORE_USER,
    ENTERPRISE,
    ENTERPRISE_ATTRIBUTES,
)

ALWAYS = ("schemas", "id")
MAX_PATHS = 50


def _paths(raw: str | list[str] | None) -> list[tuple[bool, str, str | None]]:
    """(in the enterprise extension, attribute, sub-attribute) of each listed path."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else raw.split(",")
    out: list[tuple[bool, str, str | None]] = []
    for item in items[: MAX_PATHS + 1]:
        if not isinstance(item, str):
            raise ScimError(400, "attribute paths are strings", "invalidValue")
        text = item.strip()
        ext = False
        if text.lower().startswith(ENTERPRISE.lower()):
            ext, text = True, text[len(ENTERPRISE) :].lstrip(":")
        elif text.lower().startswith(CORE_USER.lower() + ":"):
            text = text[len(CORE_USER) + 1 :]
        name, _, sub = text.partition(".")
        if ext and not name:
            out.append((True, "", None))
            continue
        attr = (ENTERPRISE_ATTRIBUTES if ext else CORE_ATTRIBUTES).get(name.lower())
        if attr is not None:
            out.append((ext, attr, sub or None))
    if len(out) > MAX_PATHS:
        raise ScimError(400, f"at most {MAX_PATHS} attribute paths", "tooMany")
    return out


def project(
    user: dict[str, Any], attributes: str | list[str] | None, excluded: str | list[str] | None
) -> dict[str, Any]:
    if attributes is not None and excluded is not None:
        raise ScimError(
            400, "attributes and excludedAttributes exclude each other", "invalidSyntax"
        )
    if attributes is not None:
        return _only(user, _paths(attributes))
    if excluded is not None:
        return _without(user, _paths(excluded))
    return user


def _only(user: dict[str, Any], paths: list[tuple[bool, str, str | None]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: user[k] for k in ALWAYS if k in user}
    for ext, attr, sub in paths:
        source = user.get(ENTERPRISE, {}) if ext else user
        if ext and not attr:
            if ENTERPRISE in user:
                out[ENTERPRISE] = copy.deepcopy(user[ENTERPRISE])
            continue
        if attr not in source:
            continue
        target = out.setdefault(ENTERPRISE, {}) if ext else out
        value = source[attr]
        if sub is None or not isinstance(value, dict | list):
            target[attr] = copy.deepcopy(value)
        elif isinstance(value, dict) and sub in value:
            target.setdefault(attr, {})[sub] = value[sub]
        elif isinstance(value, list):
            target[attr] = [{sub: v[sub]} for v in value if isinstance(v, dict) and sub in v]
    return out


def _without(user: dict[str, Any], paths: list[tuple[bool, str, str | None]]) -> dict[str, Any]:
    out = copy.deepcopy(user)
    for ext, attr, sub in paths:
        holder = out.get(ENTERPRISE, {}) if ext else out
        if ext and not attr:
            out.pop(ENTERPRISE, None)
        elif attr in ALWAYS:
            continue
        elif sub is None:
            holder.pop(attr, None)
        elif isinstance(holder.get(attr), dict):
            holder[attr].pop(sub, None)
    if out.get(ENTERPRISE) == {}:
        out.pop(ENTERPRISE)
    return out

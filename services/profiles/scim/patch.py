"""RFC 7644 §3.5.2 PATCH, applied to a User's SCIM representation (a plain dict).

The result is then parsed and stored exactly as a PUT would be, so a PATCH can do nothing
a PUT cannot. Accepted, as Entra ID and Okta send them: `op` in any case; no path with a
value object (`{"op": "replace", "value": {"active": false}}`), whose keys may themselves
be paths (`name.givenName`, `urn:...:enterprise:2.0:User:department`); paths with a value
filter (`emails[type eq "work"].value`); URN-qualified paths; a bare manager id.
Attributes we do not keep are ignored, as on a POST.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from services.profiles.scim.errors import ScimError
from services.profiles.scim.mapping import (
    CORE_ATTRIBUTES,
    CORE_USER,
    ENTERPRISE,
    ENTERPRISE_ATTRIBUTES,
)

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_OPERATIONS = 100
_PATH = re.compile(
    r"^(?P<attr>[A-Za-z][\w-]*)"
    r"(?:\[\s*(?P<fattr>[A-Za-z][\w-]*)\s+eq\s+(?P<fvalue>\"(?:[^\"\\]|\\.)*\"|true|false)\s*\])?"
    r"(?:\.(?P<sub>[A-Za-z$][\w-]*))?$",
    re.IGNORECASE,
)
# Attributes that hold a list of complex values.
_MULTI = {"emails"}
_READ_ONLY = {"id", "meta", "schemas"}


@dataclass(frozen=True)
class Target:
    ext: bool  # inside the enterprise extension object
    attr: str
    sub: str | None = None
    filter: tuple[str, Any] | None = None


def apply_patch(user: dict[str, Any], body: Any) -> dict[str, Any]:
    """`user` with the PatchOp `body` applied (a new dict); ScimError when it is invalid."""
    if not isinstance(body, dict):
        raise ScimError(400, "a PatchOp is a JSON object", "invalidSyntax")
    ops = body.get("Operations", body.get("operations"))
    if PATCH_SCHEMA not in (body.get("schemas") or []) or not isinstance(ops, list) or not ops:
        raise ScimError(400, "a PatchOp needs its schema and Operations", "invalidSyntax")
    if len(ops) > MAX_OPERATIONS:
        raise ScimError(400, f"at most {MAX_OPERATIONS} operations", "tooMany")
    out = copy.deepcopy(user)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise ScimError(400, "each operation needs an op", "invalidSyntax")
        kind = op["op"].lower()
        if kind not in ("add", "replace", "remove"):
            raise ScimError(400, f"unknown op {op['op']!r}", "invalidSyntax")
        path = op.get("path")
        if path is None:
            if kind == "remove":
                raise ScimError(400, "remove needs a path", "noTarget")
            _apply_object(out, kind, op.get("value"))
            continue
        if not isinstance(path, str) or not path.strip():
            raise ScimError(400, "path must be a string", "invalidPath")
        target = parse_path(path)
        if target is not None:
            _apply(out, kind, target, op.get("value"))
    return out


def _apply_object(user: dict[str, Any], kind: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise ScimError(400, f"{kind} without a path needs an object value", "invalidValue")
    for key, item in value.items():
        if key.lower() == ENTERPRISE.lower():
            if not isinstance(item, dict):
                raise ScimError(400, "the enterprise extension is an object", "invalidValue")
            for sub_key, sub_item in item.items():
                target = parse_path(f"{ENTERPRISE}:{sub_key}")
                if target is not None:
                    _apply(user, kind, target, sub_item)
            continue
        target = parse_path(key)
        if target is not None:
            _apply(user, kind, target, item)


def parse_path(path: str) -> Target | None:
    """The target of a path; None for an attribute we do not keep."""
    text = path.strip()
    ext = False
    lowered = text.lower()
    if lowered == ENTERPRISE.lower():
        return Target(ext=True, attr="")
    if lowered.startswith(ENTERPRISE.lower() + ":"):
        ext, text = True, text[len(ENTERPRISE) + 1 :]
    elif lowered.startswith(CORE_USER.lower() + ":"):
        text = text[len(CORE_USER) + 1 :]
    elif lowered.startswith("urn:"):
        raise ScimError(400, f"unknown schema in path {path!r}", "invalidPath")
    match = _PATH.match(text)
    if match is None:
        raise ScimError(400, f"unsupported path {path!r}", "invalidPath")
    names = ENTERPRISE_ATTRIBUTES if ext else CORE_ATTRIBUTES
    attr = names.get(match["attr"].lower())
    if attr is None:
        return None
    if attr in _READ_ONLY:
        raise ScimError(400, f"{attr} is read-only", "mutability")
    sub = match["sub"]
    filter = None
    if match["fattr"]:
        if attr not in _MULTI:
            raise ScimError(400, f"{attr} takes no value filter", "invalidFilter")
        filter = (match["fattr"], json.loads(match["fvalue"]))
    return Target(ext=ext, attr=attr, sub=sub, filter=filter)


def _apply(user: dict[str, Any], kind: str, t: Target, value: Any) -> None:
    if kind != "remove" and value is None:
        raise ScimError(400, f"{kind} of {t.attr} needs a value", "invalidValue")
    if t.ext and not t.attr:
        _apply_extension(user, kind, value)
        return
    holder = user.setdefault(ENTERPRISE, {}) if t.ext else user
    if not isinstance(holder, dict):
        raise ScimError(400, "the enterprise extension is an object", "invalidValue")
    if t.attr in _MULTI:
        _apply_multi(holder, kind, t, value)
    elif t.sub is None:
        if kind == "remove":
            holder.pop(t.attr, None)
        else:
            holder[t.attr] = value
    else:
        current = holder.get(t.attr)
        if not isinstance(current, dict):
            current = {"value": current} if isinstance(current, str) else {}
        if kind == "remove":
            current.pop(t.sub, None)
        else:
            current[t.sub] = value
        holder[t.attr] = current


def _apply_extension(user: dict[str, Any], kind: str, value: Any) -> None:
    """The whole enterprise extension object as the target."""
    if kind == "remove":
        user.pop(ENTERPRISE, None)
        return
    if not isinstance(value, dict):
        raise ScimError(400, "the enterprise extension is an object", "invalidValue")
    fresh = {k: v for k, v in value.items() if k != "schemas"}
    if kind == "add" and isinstance(user.get(ENTERPRISE), dict):
        fresh = {**user[ENTERPRISE], **fresh}
    user[ENTERPRISE] = fresh


def _apply_multi(holder: dict[str, Any], kind: str, t: Target, value: Any) -> None:
    items = [dict(i) for i in holder.get(t.attr) or [] if isinstance(i, dict)]
    if t.filter is None and t.sub is None:
        if kind == "remove":
            holder.pop(t.attr, None)
            return
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, dict) for v in values):
            raise ScimError(400, f"{t.attr} values are objects", "invalidValue")
        holder[t.attr] = (items if kind == "add" else []) + [dict(v) for v in values]
        return
    matched = [i for i in items if t.filter is None or _matches(i, t.filter)]
    if kind == "remove":
        if t.sub is None:
            items = [i for i in items if i not in matched]
        else:
            for item in matched:
                item.pop(t.sub, None)
    elif not matched and t.filter is not None:
        # Entra ID sets `emails[type eq "work"].value` on a user with no work email yet.
        fresh = {t.filter[0]: t.filter[1]}
        fresh.update({t.sub: value} if t.sub else value if isinstance(value, dict) else {})
        items.append(fresh)
    else:
        for item in matched:
            if t.sub is not None:
                item[t.sub] = value
            elif isinstance(value, dict):
                item.update(value)
            else:
                raise ScimError(400, f"{t.attr} values are objects", "invalidValue")
    holder[t.attr] = items


def _matches(item: dict[str, Any], filter: tuple[str, Any]) -> bool:
    key, expected = filter
    actual = next((v for k, v in item.items() if k.lower() == key.lower()), None)
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.lower() == expected.lower()
    return bool(actual == expected)

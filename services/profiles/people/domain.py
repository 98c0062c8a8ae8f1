"""People: who someone is in the directory. Commands yield the new state and its events.

Pure: no I/O. The service checks what needs the store (the manager exists, the handle is
free) and passes the answers in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email

from shared.events.envelope import Event, new_event
from shared.events.schemas.profiles import (
    PersonCreated,
    PersonDeactivated,
    PersonReactivated,
    PersonUpdated,
)

HANDLE = re.compile(r"^[a-z0-9._-]{2,64}$")
# BCP 47, loosely: a 2-3 letter language, then subtags of 1-8 letters or digits.
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
MAX_ID_CHARS = 200
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 200
MAX_BIO_CHARS = 4000
MAX_URL_CHARS = 2048
MAX_LINKS = 20
MAX_LINK_LABEL_CHARS = 100
MAX_LANGUAGES = 20
MAX_LANGUAGE_CHARS = 35

# Fields a person edits on their own profile; the organisation's fields (title,
# department, manager) belong to admins and the identity provider.
SELF_FIELDS = frozenset(
    {
        "handle",
        "display_name",
        "location",
        "bio",
        "avatar_url",
        "languages",
        "time_zone",
        "links",
    }
)
ORG_FIELDS = frozenset({"title", "department", "manager_id"})
EDITABLE = SELF_FIELDS | ORG_FIELDS
# `hidden_topics` is set by the expertise feature's hide/unhide routes, not by edits here.
# What `scim` (the provisioning link) may hold; written by the SCIM feature only.
SCIM_FIELD = "scim"


class PersonRuleViolation(ValueError):
    """A profile that breaks a rule (mapped to 422)."""


def check_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise profile fields; raises PersonRuleViolation."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in EDITABLE and name not in ("active", SCIM_FIELD):
            raise PersonRuleViolation(f"{name} is not a profile field")
        out[name] = _CHECKS.get(name, _keep)(name, value)
    return out


def _keep(name: str, value: Any) -> Any:
    return value


def _handle(name: str, value: Any) -> str:
    handle = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(handle, str) or not HANDLE.match(handle):
        raise PersonRuleViolation("handle must be 2-64 characters of a-z, 0-9, '.', '_', '-'")
    return handle


def _display_name(name: str, value: Any) -> str:
    text = _text(name, value, MAX_NAME_CHARS)
    if not text:
        raise PersonRuleViolation("display_name may not be empty")
    return text


def _optional_text(limit: int) -> Any:
    def check(name: str, value: Any) -> str | None:
        return _text(name, value, limit) or None

    return check


def _text(name: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PersonRuleViolation(f"{name} must be a string")
    text = value.strip()
    if len(text) > limit:
        raise PersonRuleViolation(f"{name} is longer than {limit} characters")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise PersonRuleViolation(f"{name} contains control characters")
    return text


def _url(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        raise PersonRuleViolation(f"{name} must be an http(s) URL of at most {MAX_URL_CHARS}")
    if any(c.isspace() or ord(c) < 0x20 for c in value):
        raise PersonRuleViolation(f"{name} is not a valid http(s) URL")
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise PersonRuleViolation(f"{name} is not a valid http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise PersonRuleViolation(f"{name} must be an absolute http or https URL")
    return value


def _languages(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LANGUAGES:
        raise PersonRuleViolation(f"languages must be a list of at most {MAX_LANGUAGES}")
    out: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or len(tag) > MAX_LANGUAGE_CHARS or not LANGUAGE.match(tag):
            raise PersonRuleViolation(f"{tag!r} is not a BCP 47 language tag")
        if tag not in out:
            out.append(tag)
    return out


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in _zones():
        raise PersonRuleViolation(f"{value!r} is not an IANA time zone")
    return value


def _links(name: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_LINKS:
        raise PersonRuleViolation(f"links must be a list of at most {MAX_LINKS}")
    out = []
    for link in value:
        if not isinstance(link, dict) or set(link) != {"label", "url"}:
            raise PersonRuleViolation("a link is {label, url}")
        label = _text("links.label", link["label"], MAX_LINK_LABEL_CHARS)
        if not label:
            raise PersonRuleViolation("a link needs a label")
        url = _url("links.url", link["url"])
        if url is None:
            raise PersonRuleViolation("a link needs a url")
        out.append({"label": label, "url": url})
    return out


def _manager(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise PersonRuleViolation("manager_id must be a person id")
    return value


def _active(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise PersonRuleViolation("active must be true or false")
    return value


_CHECKS = {
    "handle": _handle,
    "display_name": _display_name,
    "title": _optional_text(MAX_TEXT_CHARS),
    "department": _optional_text(MAX_TEXT_CHARS),
    "location": _optional_text(MAX_TEXT_CHARS),
    "bio": _optional_text(MAX_BIO_CHARS),
    "avatar_url": _url,
    "languages": _languages,
    "time_zone": _time_zone,
    "links": _links,
    "manager_id": _manager,
    "active": _active,
}


def blank_profile() -> dict[str, Any]:
    return {
        "title": None,
        "department": None,
        "location": None,
        "manager_id": None,
        "bio": None,
        "avatar_url": None,
        "languages": [],
        "time_zone": None,
        "links": [],
        "hidden_topics": [],
    }


def new_person(
    person_id: str, fields: dict[str, Any], *, now: datetime
) -> tuple[dict[str, Any], list[Event]]:
    """A new person document (fields already checked) and its `person.created` event."""
    if not 0 < len(person_id) <= MAX_ID_CHARS:
        raise PersonRuleViolation(f"id must be 1-{MAX_ID_CHARS} characters")
    for required in ("handle", "display_name"):
        if not fields.get(required):
            raise PersonRuleViolation(f"{required} is required")
    doc = {
        "_id": person_id,
        **blank_profile(),
        "scim": None,
        **fields,
        "active": fields.get("active", True),
        "created_at": now,
        "updated_at": now,
        "revision": 0,
    }
    return doc, [new_event(PersonCreated(**snapshot(doc)))]


def edit_person(
    person: dict[str, Any], changes: dict[str, Any], *, now: datetime
) -> tuple[dict[str, Any], list[Event]]:
    """The `$set` of an edit (checked fields) and its events; empty when nothing changes."""
    changed = {k: v for k, v in changes.items() if person.get(k) != v}
    if not changed:
        return {}, []
    fields = {**changed, "updated_at": now, "revision": person["revision"] + 1}
    after = {**person, **fields}
    events = list(_events(person, after, changed))
    return fields, events


def republished(person: dict[str, Any]) -> list[Event]:
    """The events that publish `person`'s current profile again, unchanged: the snapshot as
    a `person.updated`, which every consumer applies as it applies any update."""
    return [new_event(PersonUpdated(**snapshot(person)))]


def _events(
    before: dict[str, Any], after: dict[str, Any], changed: dict[str, Any]
) -> Iterator[Event]:
    state = snapshot(after)
    if "active" in changed and after["active"]:
        yield new_event(PersonReactivated(**state))
        yield new_event(PersonUpdated(**state))
        return
    # Of the provisioning link, only the work email is news (to notify): the rest is not in
    # the snapshot.
    if set(changed) - {"active", SCIM_FIELD} or work_email(before) != state["email"]:
        yield new_event(PersonUpdated(**state))
    if "active" in changed:
        yield new_event(PersonDeactivated(id=after["_id"]))


def snapshot(doc: dict[str, Any]) -> dict[str, Any]:
    """The public face of a person, as the person events carry it (with the work email,
    for notification mail)."""
    return {
        "id": doc["_id"],
        "handle": doc["handle"],
        "display_name": doc["display_name"],
        "title": doc.get("title"),
        "department": doc.get("department"),
        "avatar_url": doc.get("avatar_url"),
        "active": doc.get("active", True),
        "location": doc.get("location"),
        "manager_id": doc.get("manager_id"),
        "email": work_email(doc),
    }


def work_email(doc: dict[str, Any]) -> str | None:
    """The address the directory gives for a person: of the emails the identity provider
    sent (SCIM), the primary one, else the first of type "work", else the first; only a
    syntactically valid address (SCIM does not check them). None when there is none."""
    emails = [e for e in ((doc.get(SCIM_FIELD) or {}).get("emails") or []) if e.get("value")]
    ranked = sorted(emails, key=lambda e: (e.get("primary") is not True, e.get("type") != "work"))
    for e in ranked:
        try:
            return str(validate_email(e["value"], check_deliverability=False).normalized)
        except EmailNotValidError:
            continue
    return None


def handle_candidates(seed: str, limit: int = 50) -> Iterator[str]:
    """Free-handle candidates from a login or a name: `ana.silva`, `ana.silva-2`, ..."""
    local = seed.split("@", 1)[0]
    ascii_only = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9._-]+", "-", ascii_only.lower()).strip("-.")[:60] or "person"
    if len(base) < 2:
        base = f"{base}-x"
    yield base
    for n in range(2, limit + 2):
        yield f"{base}-{n}"

"""SCIM User <-> person: what an identity provider sends, and what it reads back.

userName is the IdP's login (often an email): kept as sent, matched case-insensitively,
and the seed of the person's handle at creation (the handle then stays: @mentions use it).
displayName (else name.formatted, else given + family name, else userName) is the
display name; title, the enterprise department and manager.value map to the profile;
name, emails and externalId are kept as sent. An attribute the IdP removed is remembered
as unassigned, so reading it back gives what was written.

Parsing is lenient on purpose: IdPs send attributes we do not keep (phoneNumbers,
addresses...), "True" for true, and a bare manager id; those are accepted or ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.profiles.scim.errors import ScimError

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Attributes we keep, by their lower-cased name (SCIM names are case-insensitive).
CORE_ATTRIBUTES = {
    a.lower(): a
    for a in ("id", "externalId", "userName", "name", "displayName", "title", "active", "emails")
}
ENTERPRISE_ATTRIBUTES = {a.lower(): a for a in ("department", "manager")}
UNASSIGNABLE = ("displayName", "active")
Short = Field(None, max_length=200)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ScimName(_Lenient):
    formatted: str | None = Short
    familyName: str | None = Short
    givenName: str | None = Short
    middleName: str | None = Short
    honorificPrefix: str | None = Short
    honorificSuffix: str | None = Short


class ScimEmail(_Lenient):
    value: str = Field(min_length=1, max_length=320)
    type: str | None = Field(None, max_length=50)
    primary: bool | None = None
    display: str | None = Field(None, max_length=320)


class ScimManager(_Lenient):
    value: str | None = Field(None, max_length=200)


class ScimEnterprise(_Lenient):
    department: str | None = Short
    manager: ScimManager | None = None

    @field_validator("manager", mode="before")
    @classmethod
    def _bare_id(cls, value: Any) -> Any:
        return {"value": value} if isinstance(value, str) else value


class ScimUserIn(_Lenient):
    userName: str = Field(min_length=1, max_length=256)
    externalId: str | None = Field(None, min_length=1, max_length=200)
    name: ScimName | None = None
    displayName: str | None = Short
    title: str | None = Short
    active: bool | None = None
    emails: list[ScimEmail] = Field(default_factory=list, max_length=20)
    enterprise: ScimEnterprise | None = Field(None, alias=ENTERPRISE)

    @field_validator("emails", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


def parse_user(payload: Any) -> ScimUserIn:
    """A SCIM User document, validated; 400 invalidValue otherwise."""
    if not isinstance(payload, dict):
        raise ScimError(400, "a User is a JSON object", "invalidSyntax")
    try:
        return ScimUserIn.model_validate(canonical_keys(payload))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScimError(400, f"{where}: {first['msg']}", "invalidValue") from None


def canonical_keys(payload: dict[str, Any]) -> dict[str, Any]:
    """Attribute names in their canonical case (IdPs vary: `UserName`, `emails`...)."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key.lower() == ENTERPRISE.lower():
            if isinstance(value, dict):
                value = {ENTERPRISE_ATTRIBUTES.get(k.lower(), k): v for k, v in value.items()}
            out[ENTERPRISE] = value
        else:
            out[CORE_ATTRIBUTES.get(key.lower(), key)] = value
    return out


def person_fields(user: ScimUserIn) -> dict[str, Any]:
    """The people fields (and the provisioning link) a SCIM User sets, for a PUT or a POST."""
    name = user.name.model_dump(exclude_none=True) if user.name else None
    ent = user.enterprise or ScimEnterprise()
    unassigned = [attr for attr in UNASSIGNABLE if getattr(user, attr) is None]
    return {
        "display_name": _display_name(user)[:200],
        "title": user.title or None,
        "department": ent.department or None,
        "manager_id": ent.manager.value if ent.manager and ent.manager.value else None,
        "active": True if user.active is None else user.active,
        "scim": {
            "user_name": user.userName,
            "user_name_key": user.userName.lower(),
            "external_id": user.externalId,
            "name": name or None,
            "emails": [e.model_dump(exclude_none=True) for e in user.emails],
            "unassigned": unassigned,
        },
    }


def _display_name(user: ScimUserIn) -> str:
    if user.displayName and user.displayName.strip():
        return user.displayName
    name = user.name
    if name and name.formatted and name.formatted.strip():
        return name.formatted
    if name and (joined := " ".join(p for p in (name.givenName, name.familyName) if p).strip()):
        return joined
    return user.userName


def to_scim(doc: dict[str, Any], *, users_url: str) -> dict[str, Any]:
    """The SCIM User of a provisioned person (`users_url`: the /Users endpoint's URL)."""
    link = doc["scim"]
    unassigned = set(link.get("unassigned", []))
    user: dict[str, Any] = {"schemas": [CORE_USER], "id": doc["_id"]}
    if link.get("external_id") is not None:
        user["externalId"] = link["external_id"]
    user["userName"] = link["user_name"]
    if link.get("name"):
        user["name"] = link["name"]
    if "displayName" not in unassigned:
        user["displayName"] = doc["display_name"]
    if doc.get("title") is not None:
        user["title"] = doc["title"]
    if "active" not in unassigned or not doc["active"]:
        user["active"] = doc["active"]
    if link.get("emails"):
        user["emails"] = link["emails"]
    enterprise: dict[str, Any] = {}
    if doc.get("department") is not None:
        enterprise["department"] = doc["department"]
    if doc.get("manager_id") is not None:
        manager = doc["manager_id"]
        enterprise["manager"] = {"value": manager, "$ref": f"{users_url}/{quote(manager, safe='')}"}
    if enterprise:
        user["schemas"].append(ENTERPRISE)
        user[ENTERPRISE] = enterprise
    user["meta"] = {
        "resourceType": "User",
        "created": _iso(doc["created_at"]),
        "lastModified": _iso(doc["updated_at"]),
        # externalId becomes the id: percent-encoded, the URI stays valid in a Location header.
        "location": f"{users_url}/{quote(doc['_id'], safe='')}",
        "version": f'W/"{doc["revision"]}"',
    }
    return user


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")

"""What the people routes return: a person's public profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.profiles.people import examples
from shared.http.auth.principal import Principal
from shared.http.pagination import CursorPayload


class LinkOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.LINK]})

    label: str
    url: str


class PersonOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PERSON]})

    id: str
    handle: str
    display_name: str
    title: str | None = None
    department: str | None = None
    location: str | None = None
    manager_id: str | None = None
    bio: str | None = None
    avatar_url: str | None = None
    languages: list[str] = []
    time_zone: str | None = None
    links: list[LinkOut] = []
    active: bool
    hidden_topics: list[str] | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, doc: dict[str, Any], viewer: Principal) -> PersonOut:
        """`hidden_topics` is a private preference: only its owner and admins see it."""
        own = viewer.user_id == doc["_id"] or viewer.is_admin
        fields = {k: v for k, v in doc.items() if k in cls.model_fields and k != "hidden_topics"}
        return cls(
            **fields,
            id=doc["_id"],
            hidden_topics=list(doc.get("hidden_topics", [])) if own else None,
        )


def page_cursor(person: PersonOut) -> CursorPayload:
    return {"handle": person.handle, "_id": person.id}

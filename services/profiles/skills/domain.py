"""Skills rules: the taxonomy, declared skills, endorsements. Pure: no I/O.

Declared skills and endorsements are soft-deleted (`removed` / `active`), so the document
keeps its outbox until the relay published the tombstone event, and a re-declaration or a
re-endorsement is an update with a higher revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.profiles.expertise.topics import InvalidSkill, slug
from shared.events.envelope import Event, new_event
from shared.events.schemas.profiles_expertise import (
    EndorsementAdded,
    EndorsementWithdrawn,
    SkillDeclared,
    SkillRemoved,
)

MAX_ALIASES = 50


class SkillRuleViolation(ValueError):
    """A request that breaks a skills rule (422)."""


@dataclass(frozen=True)
class SkillSpec:
    """A taxonomy entry as an admin wrote it, normalised."""

    id: str
    name: str
    aliases: list[str]
    parent_id: str | None


def skill_spec(name: str, aliases: list[str], parent: str | None) -> SkillSpec:
    """Normalise a taxonomy entry: slug id, distinct alias slugs (not the id itself)."""
    skill_id = slug(name)
    normalized: dict[str, None] = {}
    for alias in aliases:
        value = slug(alias)
        if value != skill_id:
            normalized.setdefault(value, None)
    if len(normalized) > MAX_ALIASES:
        raise SkillRuleViolation(f"at most {MAX_ALIASES} aliases")
    parent_id = slug(parent) if parent else None
    if parent_id == skill_id:
        raise SkillRuleViolation("a skill cannot be its own parent")
    return SkillSpec(skill_id, name.strip(), list(normalized), parent_id)


def person_skill_id(person_id: str, skill_id: str) -> str:
    return f"{person_id}:{skill_id}"


def endorsement_id(endorser_id: str, person_id: str, skill_id: str) -> str:
    return f"{endorser_id}:{person_id}:{skill_id}"


def declare(
    current: dict[str, Any] | None, person_id: str, skill_id: str, level: int, now: datetime
) -> tuple[dict[str, Any], Event]:
    """The declared skill's fields and its `skill.declared` event."""
    if not 1 <= level <= 5:
        raise SkillRuleViolation("level must be between 1 and 5")
    doc = {
        "_id": person_skill_id(person_id, skill_id),
        "person_id": person_id,
        "skill_id": skill_id,
        "level": level,
        "declared_at": now,
        "removed": False,
        "revision": (current or {}).get("revision", 0) + 1,
    }
    event = new_event(
        SkillDeclared(
            id=doc["_id"], person_id=person_id, skill_id=skill_id, level=level, declared_at=now
        )
    )
    return doc, event


def remove(current: dict[str, Any], now: datetime) -> tuple[dict[str, Any], Event]:
    fields = {"removed": True, "removed_at": now, "revision": current["revision"] + 1}
    event = new_event(
        SkillRemoved(
            id=current["_id"],
            person_id=current["person_id"],
            skill_id=current["skill_id"],
            removed_at=now,
        )
    )
    return fields, event


def endorse(
    current: dict[str, Any] | None,
    endorser_id: str,
    person_id: str,
    skill_id: str,
    *,
    active: bool,
    now: datetime,
) -> tuple[dict[str, Any], Event]:
    """The endorsement's new state (added or withdrawn) and its event."""
    if endorser_id == person_id:
        raise SkillRuleViolation("you cannot endorse yourself")
    revision = (current or {}).get("revision", 0) + 1
    doc = {
        "_id": endorsement_id(endorser_id, person_id, skill_id),
        "endorser_id": endorser_id,
        "person_id": person_id,
        "skill_id": skill_id,
        "active": active,
        "revision": revision,
        "at": now,
    }
    model = EndorsementAdded if active else EndorsementWithdrawn
    event = new_event(
        model(
            id=doc["_id"],
            endorser_id=endorser_id,
            person_id=person_id,
            skill_id=skill_id,
            revision=revision,
            at=now,
        )
    )
    return doc, event


__all__ = ["InvalidSkill", "SkillRuleViolation", "SkillSpec", "declare", "endorse", "remove"]

"""Skills use cases: taxonomy (admins), declared skills, endorsements (applied to expertise)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from services.profiles.expertise.scorer import Scorer
from services.profiles.expertise.topics import slug
from services.profiles.skills import domain
from services.profiles.skills.names import SkillNames
from services.profiles.skills.repository import ENDORSEMENTS, PERSON_SKILLS, SkillRepository
from shared.http.auth.principal import Principal

log = structlog.get_logger()

MAX_PARENT_DEPTH = 32
WRITE_ATTEMPTS = 5


class SkillNotFound(LookupError):
    """Unknown skill, declared skill or endorsement."""


class PersonNotFound(LookupError):
    """Unknown or deactivated person."""


class SkillConflict(RuntimeError):
    """A name or alias already belongs to another skill of the taxonomy."""


class WriteConflict(RuntimeError):
    """The document kept changing under us; the client may retry."""


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class SkillService:
    def __init__(
        self,
        repo: SkillRepository,
        names: SkillNames,
        scorer: Scorer,
        *,
        on_events: Callable[[], None],
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._repo = repo
        self._names = names
        self._scorer = scorer
        self._on_events = on_events
        self._clock = clock

    # taxonomy (admins write; the routes check the role)

    async def create(self, name: str, aliases: list[str], parent: str | None) -> dict[str, Any]:
        spec = domain.skill_spec(name, aliases, parent)
        await self._check_parent(spec.id, spec.parent_id)
        owner = await self._repo.owner_of([spec.id, *spec.aliases])
        if owner is not None:
            raise SkillConflict(f"{owner['_id']!r} already has this name or alias")
        now = self._clock()
        # The check above gives the usual answer; the claims decide a race (`names.py`).
        holder = await self._names.claim(spec.id, [spec.id, *spec.aliases], now)
        if holder is not None:
            raise SkillConflict(f"{holder!r} already has this name or alias")
        doc = {
            "_id": spec.id,
            "name": spec.name,
            "aliases": spec.aliases,
            "parent_id": spec.parent_id,
            "created_at": now,
            "updated_at": now,
        }
        if not await self._repo.insert_skill(doc):
            # The id's claims are that skill's: only the aliases it does not hold go back.
            existing = await self._repo.skill(spec.id)
            held = set(existing["aliases"]) if existing else set()
            await self._names.release(spec.id, set(spec.aliases) - held)
            raise SkillConflict(f"skill {spec.id!r} exists")
        log.info("profiles.skill.created", skill_id=spec.id)
        return doc

    async def get(self, raw: str) -> dict[str, Any]:
        doc = await self._repo.resolve(slug(raw))
        if doc is None:
            raise SkillNotFound(raw)
        return doc

    async def listing(self, limit: int, after: dict[str, Any] | None) -> list[dict[str, Any]]:
        return await self._repo.list_skills(limit, after)

    async def update(self, skill_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        current = await self._repo.skill(skill_id)
        if current is None:
            raise SkillNotFound(skill_id)
        # `"aliases": null` in a PATCH clears them, as `"parent_id": null` clears the parent.
        aliases = changes.get("aliases", current["aliases"]) or []
        parent = changes.get("parent_id", current["parent_id"])
        spec = domain.skill_spec(current["_id"], aliases, parent)
        await self._check_parent(skill_id, spec.parent_id)
        owner = await self._repo.alias_owner(skill_id, spec.aliases)
        if owner is not None:
            raise SkillConflict(f"{owner['_id']!r} already has one of these aliases")
        now = self._clock()
        added = [a for a in spec.aliases if a not in current["aliases"]]
        holder = await self._names.claim(skill_id, added, now)
        if holder is not None:
            raise SkillConflict(f"{holder!r} already has one of these aliases")
        fields = {"aliases": spec.aliases, "parent_id": spec.parent_id, "updated_at": now}
        if changes.get("name"):
            fields["name"] = changes["name"].strip()
        doc = await self._repo.update_skill(skill_id, fields)
        if doc is None:
            await self._names.release(skill_id)
            raise SkillNotFound(skill_id)
        await self._names.release(skill_id, set(current["aliases"]) - set(spec.aliases))
        log.info("profiles.skill.updated", skill_id=skill_id)
        return doc

    async def delete(self, skill_id: str) -> None:
        if not await self._repo.delete_skill(skill_id):
            raise SkillNotFound(skill_id)
        await self._names.release(skill_id)
        log.info("profiles.skill.deleted", skill_id=skill_id)

    async def _check_parent(self, skill_id: str, parent_id: str | None) -> None:
        seen = {skill_id}
        node = parent_id
        for _ in range(MAX_PARENT_DEPTH):
            if node is None:
                return
            if node in seen:
                raise domain.SkillRuleViolation(f"parent {parent_id!r} would make a cycle")
            seen.add(node)
            parent = await self._repo.skill(node)
            if parent is None:
                raise domain.SkillRuleViolation(f"parent skill {node!r} does not exist")
            node = parent.get("parent_id")
        raise domain.SkillRuleViolation("the parent chain is too deep")

    async def canonical(self, raw: str) -> str:
        """A skill's canonical slug: an alias resolves to its skill; a free skill is itself."""
        value = slug(raw)
        owner = await self._repo.resolve(value)
        return str(owner["_id"]) if owner else value

    # declared skills

    async def declare(self, principal: Principal, raw: str, level: int) -> dict[str, Any]:
        skill_id = await self.canonical(raw)
        doc_id = domain.person_skill_id(principal.user_id, skill_id)
        for _ in range(WRITE_ATTEMPTS):
            current = await self._repo.get(PERSON_SKILLS, doc_id)
            if current and not current["removed"] and current["level"] == level:
                return current
            doc, event = domain.declare(current, principal.user_id, skill_id, level, self._clock())
            if await self._repo.write(PERSON_SKILLS, current, doc, [event]):
                self._on_events()
                log.info("profiles.skill.declared", skill_id=skill_id, level=level)
                return doc
        raise WriteConflict(doc_id)

    async def undeclare(self, principal: Principal, raw: str) -> None:
        skill_id = await self.canonical(raw)
        doc_id = domain.person_skill_id(principal.user_id, skill_id)
        for _ in range(WRITE_ATTEMPTS):
            current = await self._repo.get(PERSON_SKILLS, doc_id)
            if current is None or current["removed"]:
                raise SkillNotFound(skill_id)
            fields, event = domain.remove(current, self._clock())
            if await self._repo.write(PERSON_SKILLS, current, fields, [event]):
                self._on_events()
                log.info("profiles.skill.removed", skill_id=skill_id)
                return
        raise WriteConflict(doc_id)

    async def of_person(self, principal: Principal, person_id: str) -> list[dict[str, Any]]:
        """Declared skills with levels, plus endorsed ones, with endorsement counts."""
        if person_id != principal.user_id:
            await self._live_person(person_id)
        declared = {d["skill_id"]: d for d in await self._repo.declared(person_id)}
        endorsements = await self._repo.endorsements_of(person_id)
        counts = Counter(e["skill_id"] for e in endorsements)
        mine = {e["skill_id"] for e in endorsements if e["endorser_id"] == principal.user_id}
        names = {
            d["_id"]: d["name"]
            for d in await self._repo.skills.find(
                {"_id": {"$in": sorted(set(declared) | set(counts))}}
            )
        }
        skill_ids = sorted(set(declared) | set(counts), key=lambda s: (-counts[s], s))
        return [
            {
                "skill_id": s,
                "name": names.get(s, s),
                "level": declared[s]["level"] if s in declared else None,
                "endorsements": counts[s],
                "endorsed_by_me": s in mine,
            }
            for s in skill_ids
        ]

    async def _live_person(self, person_id: str) -> None:
        person = await self._repo.person(person_id)
        if person is None or not person.get("active", True):
            raise PersonNotFound(person_id)

    # endorsements

    async def endorse(self, principal: Principal, person_id: str, raw: str) -> dict[str, Any]:
        return await self._endorsement(principal, person_id, raw, active=True)

    async def withdraw(self, principal: Principal, person_id: str, raw: str) -> None:
        await self._endorsement(principal, person_id, raw, active=False)

    async def _endorsement(
        self, principal: Principal, person_id: str, raw: str, *, active: bool
    ) -> dict[str, Any]:
        skill_id = await self.canonical(raw)
        if principal.user_id == person_id:
            raise domain.SkillRuleViolation("you cannot endorse yourself")
        await self._live_person(person_id)
        doc_id = domain.endorsement_id(principal.user_id, person_id, skill_id)
        for _ in range(WRITE_ATTEMPTS):
            current = await self._repo.get(ENDORSEMENTS, doc_id)
            if current is None and not active:
                raise SkillNotFound(skill_id)
            if current is not None and current["active"] == active:
                if not active:
                    raise SkillNotFound(skill_id)
                return current
            doc, event = domain.endorse(
                current, principal.user_id, person_id, skill_id, active=active, now=self._clock()
            )
            if await self._repo.write(ENDORSEMENTS, current, doc, [event]):
                self._on_events()
                # Same process, same store: the score moves at once. The consumer of the
                # event re-applies it (idempotent by revision) if we die right here.
                await self._scorer.endorsement(
                    endorser_id=principal.user_id,
                    person_id=person_id,
                    skill_id=skill_id,
                    active=active,
                    at=doc["at"],
                    revision=doc["revision"],
                )
                log.info("profiles.endorsement.changed", skill_id=skill_id, active=active)
                return doc
        raise WriteConflict(doc_id)

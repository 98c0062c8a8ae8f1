"""Claims on the taxonomy's names, so two skills never end up with the same name or alias.

Checking the taxonomy and then writing a skill leaves a window: two admins creating
"Kubernetes" and "K8s Engine" with the alias "k8s" at once would both pass the check.
A unique index cannot close it: aliases are an array, and unique indexes on arrays do not
compare element by element on every engine the store runs on (FerretDB). So each name
(a skill's id and each alias) is claimed first, as a document of its own whose `_id` is
the name: the store's `_id` uniqueness decides who gets it, on every engine.

A claim is written before the skill and released after it, so a crash in between leaves
a claim that no skill holds. Such a claim stops others only for `GRACE` (long enough for
the create or update that made it to finish), then the next claimant takes it over.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import structlog

from shared.store.errors import DuplicateKeyError
from shared.store.port import Collection, DocumentStore

log = structlog.get_logger()

SKILL_NAMES = "skill_names"
GRACE = timedelta(minutes=1)
_ATTEMPTS = 5


class SkillNames:
    def __init__(self, store: DocumentStore, skills: Collection) -> None:
        self._names = store.collection(SKILL_NAMES)
        self._skills = skills

    async def prepare(self, now: datetime) -> None:
        """Claim the names of skills written before claims existed (once; cheap after)."""
        claimed = {d["_id"] for d in await self._names.find({}, projection=[], limit=None)}
        for skill in await self._skills.find({}, projection=["aliases"], limit=None):
            for name in _names_of(skill):
                if name in claimed:
                    continue
                try:
                    await self._names.insert_one({"_id": name, "skill_id": skill["_id"], "at": now})
                except DuplicateKeyError:
                    claim = await self._names.find_one({"_id": name})
                    if claim is not None and claim["skill_id"] != skill["_id"]:
                        # Two old skills share it (the race this closes): the first keeps it.
                        log.warning("profiles.skill.name_shared", name=name, skill_id=skill["_id"])

    async def claim(self, skill_id: str, names: Iterable[str], now: datetime) -> str | None:
        """Claim every name for `skill_id`; None, or the skill that holds one of them (then
        the names newly claimed here are released again)."""
        new: list[str] = []
        for name in names:
            claimed, owner = await self._claim_one(skill_id, name, now)
            if owner is not None:
                await self.release(skill_id, new)
                return owner
            if claimed:
                new.append(name)
        return None

    async def release(self, skill_id: str, names: Iterable[str] | None = None) -> None:
        """Give up `names` (all of the skill's when None) where `skill_id` holds them."""
        query: dict[str, Any] = {"skill_id": skill_id}
        if names is not None:
            wanted = list(names)
            if not wanted:
                return
            query = {"$and": [{"_id": {"$in": wanted}}, query]}
        await self._names.delete_many(query)

    async def _claim_one(self, skill_id: str, name: str, now: datetime) -> tuple[bool, str | None]:
        """(claimed here, the other holder or None)."""
        for _ in range(_ATTEMPTS):
            try:
                await self._names.insert_one({"_id": name, "skill_id": skill_id, "at": now})
                return True, None
            except DuplicateKeyError:
                claim = await self._names.find_one({"_id": name})
            if claim is None:
                continue  # released meanwhile: try again
            holder = claim["skill_id"]
            if holder == skill_id:
                return False, None
            if now - claim["at"] < GRACE or await self._holds(holder, name):
                return False, holder
            # Nobody holds it past the grace: a create or an update that did not finish.
            taken = await self._names.find_one_and_update(
                {"_id": name, "skill_id": holder, "at": claim["at"]},
                {"$set": {"skill_id": skill_id, "at": now}},
            )
            if taken is not None:
                log.info("profiles.skill.name_reclaimed", name=name, skill_id=skill_id)
                return True, None
        return False, name  # it kept changing hands: report it as taken

    async def _holds(self, skill_id: str, name: str) -> bool:
        skill = await self._skills.find_one({"_id": skill_id})
        return skill is not None and name in _names_of(skill)


def _names_of(skill: dict[str, Any]) -> list[str]:
    return [skill["_id"], *(skill.get("aliases") or [])]

"""Sources in, expertise out: update a source's state, then project its contribution.

`Scorer` does it one event at a time; `BatchScorer` (batch.py) does the same for a whole
batch with a few reads and one write per touched document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.profiles.expertise import domain
from services.profiles.expertise.repository import ExpertiseRepository
from services.profiles.expertise.signals import Signal


class Scorer:
    def __init__(self, repo: ExpertiseRepository) -> None:
        self._repo = repo

    async def source(self, signal: Signal) -> None:
        source_id, update = signal
        src = await self._repo.update_source(source_id, update)
        h = self._repo.half_life_days
        await self._project(src, source_id, domain.source_contribution(source_id, src, h))

    async def restamp(self, filter: dict[str, Any], fields: dict[str, Any]) -> int:
        """Set `fields` on every source matching `filter` and project each again (a group
        turned private or was deleted, a question was deleted); how many there were."""
        source_ids = await self._repo.source_ids(filter)
        for source_id in source_ids:
            await self.source((source_id, {"$set": fields}))
        return len(source_ids)

    async def endorsement(
        self,
        *,
        endorser_id: str,
        person_id: str,
        skill_id: str,
        active: bool,
        at: datetime,
        revision: int,
    ) -> None:
        """An endorsement counts for the endorsed person in the skill's topic."""
        contribution = domain.endorsement_contribution(
            endorser_id, active, at, self._repo.half_life_days
        )
        await self._repo.project(
            person_id,
            [skill_id],
            endorsement_source(endorser_id, person_id, skill_id),
            lambda _topic: contribution,
            revision,
        )

    async def _project(
        self, src: dict[str, Any], source_id: str, contribution: domain.Contribution | None
    ) -> None:
        author_id = src.get("author_id")
        if not author_id:
            return
        current = set(src.get("topics", []))
        await self._repo.project(
            author_id,
            list(src.get("topics_all", [])),
            source_id,
            lambda topic: contribution if topic in current else None,
            src["v"],
        )


def endorsement_source(endorser_id: str, person_id: str, skill_id: str) -> str:
    return f"endorsement:{endorser_id}:{person_id}:{skill_id}"

"""Sources in, expertise out: update a source's state, then project its contribution."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.profiles.expertise import domain
from services.profiles.expertise.repository import ExpertiseRepository


class Scorer:
    def __init__(self, repo: ExpertiseRepository) -> None:
        self._repo = repo

    async def post(self, post_id: str, update: dict[str, Any]) -> None:
        src = await self._repo.update_source(f"post:{post_id}", update)
        h = self._repo.half_life_days
        await self._project(src, f"post:{post_id}", domain.post_contribution(src, h))

    async def answer(self, answer_id: str, update: dict[str, Any]) -> None:
        src = await self._repo.update_source(f"answer:{answer_id}", update)
        h = self._repo.half_life_days
        await self._project(src, f"answer:{answer_id}", domain.answer_contribution(src, h))

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
            f"endorsement:{endorser_id}:{person_id}:{skill_id}",
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

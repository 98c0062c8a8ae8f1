"""Skills taxonomy, declared skills with levels, endorsements.

Read top-down: `domain.py` (rules), `repository.py`, `service.py` (use cases; endorsements
move expertise at once through the expertise scorer), `routes.py`. Names are normalised by
`services/profiles/expertise/topics.py` (a copy of the activity topic rule).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.profiles.context import Feature, ProfilesContext
from services.profiles.expertise import scorer_for
from services.profiles.skills.names import SkillNames
from services.profiles.skills.repository import ENDORSEMENTS, PERSON_SKILLS, SkillRepository
from services.profiles.skills.routes import build_router
from services.profiles.skills.service import SkillService


def install(ctx: ProfilesContext) -> Feature:
    repo = SkillRepository(ctx.store)
    names = SkillNames(ctx.store, repo.skills)
    skills = SkillService(repo, names, scorer_for(ctx), on_events=lambda: ctx.notify_outbox())

    async def claim_old_names() -> None:
        await names.prepare(datetime.now(UTC))

    return Feature(
        routers=[build_router(skills)],
        outbox_collections=[PERSON_SKILLS, ENDORSEMENTS],
        setup=[repo.prepare, claim_old_names],
    )

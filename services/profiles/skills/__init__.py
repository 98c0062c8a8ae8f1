"""Skills taxonomy, declared skills with levels, endorsements.

Read top-down: `domain.py` (rules), `repository.py`, `service.py` (use cases; endorsements
move expertise at once through the expertise scorer), `routes.py`. Names are normalised by
`services/profiles/expertise/topics.py` (a copy of the activity topic rule).
"""

from __future__ import annotations

from services.profiles.context import Feature, ProfilesContext
from services.profiles.expertise import scorer_for
from services.profiles.skills.repository import ENDORSEMENTS, PERSON_SKILLS, SkillRepository
from services.profiles.skills.routes import build_router
from services.profiles.skills.service import SkillService


def install(ctx: ProfilesContext) -> Feature:
    repo = SkillRepository(ctx.store)
    skills = SkillService(repo, scorer_for(ctx), on_events=lambda: ctx.notify_outbox())
    return Feature(
        routers=[build_router(skills)],
        outbox_collections=[PERSON_SKILLS, ENDORSEMENTS],
        setup=[repo.prepare],
    )

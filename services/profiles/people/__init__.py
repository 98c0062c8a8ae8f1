"""People directory: profiles, self and admin edits, deactivation, reports and manager chain.

`PeopleService` is the one way to write `people`; the SCIM feature provisions through it.
"""

from __future__ import annotations

from functools import partial

from services.profiles.context import Feature, ProfilesContext
from services.profiles.people.repository import PEOPLE, PeopleRepository
from services.profiles.people.routes import build_router
from services.profiles.people.service import PeopleService
from shared.http.idempotency import idempotent_route_class, prepare_idempotency

__all__ = ["IDEMPOTENCY_KEYS", "PEOPLE", "PeopleService", "install", "people_service"]

# Every profiles POST route under /api/v1 shares this collection of Idempotency-Key records.
IDEMPOTENCY_KEYS = "idempotency_keys"


def people_service(ctx: ProfilesContext) -> PeopleService:
    """The people use cases on `ctx`'s store (SCIM provisions through the same rules)."""
    # Dev mode creates a profile from the token on a first `GET /people/me`; elsewhere
    # people arrive by SCIM or an admin. The flag comes from the composition root.
    auto_provision = ctx.options.people_auto_provision
    return PeopleService(
        PeopleRepository(ctx.store),
        on_events=lambda: ctx.notify_outbox(),
        auto_provision=auto_provision,
    )


def install(ctx: ProfilesContext) -> Feature:
    repo = PeopleRepository(ctx.store)
    keys = ctx.store.collection(IDEMPOTENCY_KEYS)
    return Feature(
        routers=[build_router(people_service(ctx), idempotent_route_class(keys))],
        outbox_collections=[PEOPLE],
        setup=[repo.prepare, partial(prepare_idempotency, keys)],
    )

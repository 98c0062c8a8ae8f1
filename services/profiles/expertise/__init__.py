"""Expertise inferred from activity events, with evidence; experts, who-to-ask, suggestions.

Read top-down: `domain.py` (weights, decay, contributions), `repository.py` (sources and
expertise documents, versioned projections), `signals.py` (what each event changes),
`scorer.py` (one event), `batch.py` (a batch of events), `handlers.py` (the
`profiles.expertise` consumer), `local.py` (local copies of questions, memberships,
follows), `service.py` (reads), `routes.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.profiles.context import Feature, ProfilesContext
from services.profiles.expertise.batch import BatchScorer
from services.profiles.expertise.handlers import build_dispatcher
from services.profiles.expertise.local import LocalCopies
from services.profiles.expertise.repository import (
    EXPERTISE,
    EXPERTISE_BATCH,
    ExpertiseRepository,
)
from services.profiles.expertise.routes import build_router
from services.profiles.expertise.scorer import Scorer
from services.profiles.expertise.service import ExpertiseService
from shared.events.schemas import activity, profiles
from shared.service import Subscription

GROUP = "profiles.expertise"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def scorer_for(ctx: ProfilesContext, clock: Clock = utc_now) -> Scorer:
    """The scorer on the profiles store (the skills feature applies endorsements with it)."""
    return Scorer(repository_for(ctx, clock))


def repository_for(ctx: ProfilesContext, clock: Clock = utc_now) -> ExpertiseRepository:
    return ExpertiseRepository(
        ctx.store,
        half_life_days=ctx.options.expertise_half_life_days,
        clock=clock,
        on_events=lambda: ctx.notify_outbox(),
    )


def install(ctx: ProfilesContext, *, clock: Clock = utc_now) -> Feature:
    repo = repository_for(ctx, clock)
    local = LocalCopies(ctx.store)
    dispatcher = build_dispatcher(Scorer(repo), local, BatchScorer(repo))
    return Feature(
        routers=[build_router(ExpertiseService(repo, local, ctx.store, clock=clock))],
        outbox_collections=[EXPERTISE],
        setup=[repo.prepare, local.prepare],
        subscriptions=[
            Subscription(
                group=GROUP,
                topics=[activity.TOPIC, profiles.TOPIC],
                handler=dispatcher,
                batch_handler=dispatcher.handle_batch,
                # A batch costs about ten round trips whatever its size (reads by `$in`,
                # bulk inserts and compare-and-swaps): on Kafka + FerretDB, batches of
                # 2,000 handled ~2,650 events/s where batches of 500 handled ~1,950.
                max_batch=EXPERTISE_BATCH,
            )
        ],
    )

"""Events the search service folds into its projections (consumer group `search`).

Handlers only write projections (idempotent, ordered by stamps, see domain/folds.py); the
index relay turns dirty projections into index writes. So a handler succeeds even while
the search backend is down, and indexing converges when it comes back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import structlog

from services.search.domain import folds
from services.search.indexing.repository import (
    GROUP_FOLDS,
    INDEXED,
    MEMBERSHIPS,
    PEOPLE,
    POST_FOLDS,
    REACTIONS,
    VOTES,
    Change,
    Fold,
    ProjectionContention,
    Projections,
)
from shared.events import registry
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event, EventData
from shared.events.schemas import profiles as pr
from shared.events.schemas import profiles_expertise as pe
from shared.events.schemas.activity import discussion as d
from shared.events.schemas.activity import posts as p
from shared.events.schemas.activity import social as s
from shared.settle import settle

log = structlog.get_logger()

Plan = tuple[str, str, Fold]  # collection, document id, fold
Planner = Callable[[Event, Any], Plan]


def build_dispatcher(proj: Projections, wake: Callable[[str], None]) -> EventDispatcher:
    dispatcher = EventDispatcher(registry)
    on = dispatcher.on
    # Events whose whole effect is one fold of one document: each gets a per-event handler
    # and they share a batch handler (one read per collection, one write per document).
    planners: dict[str, Planner] = {}
    creating: set[str] = set()
    batched: list[type[EventData]] = []

    async def fold(name: str, doc_id: str, event: Event, fn: Fold, creates: bool = False) -> bool:
        at = event.time if name in INDEXED else None
        changed = await proj.apply(name, doc_id, fn, event_time=at, creates=creates)
        if changed and name in INDEXED:
            wake(name)
            log.debug("search.projection.changed", collection=name, id=doc_id, type=event.type)
        return changed

    async def touch(name: str, filter: dict[str, Any]) -> None:
        """Mark documents to re-render, and wake the relay for them: the fold that led
        here woke it before they were marked, so without this they would wait a poll."""
        if await proj.touch(name, filter):
            wake(name)

    async def settle_count(
        post_id: str,
        event: Event,
        count: Callable[[], Awaitable[int]],
        setting: Callable[[int], Fold],
    ) -> None:
        """Fold a number counted from other records into a post, until a recount agrees.

        Reactions (and votes) of different people travel on different partitions, so
        their handlers record, count and fold concurrently: a count read before another
        person's record was written could be folded after that person's correct count.
        """

        async def write(value: int) -> None:
            await fold(POST_FOLDS, post_id, event, setting(value))

        def moving() -> Exception:
            return ProjectionContention(f"{POST_FOLDS}/{post_id}: count still moving")

        await settle(count, write, error=moving)

    def stamp(event: Event) -> str:
        return folds.stamp_of(event.time, event.id)

    async def folded(event: Event, data: Any) -> bool:
        name, doc_id, fn = planners[event.type](event, data)
        return await fold(name, doc_id, event, fn, creates=event.type in creating)

    def folding(*models: type[EventData], creates: bool = False) -> Callable[[Planner], Planner]:
        """Register `plan(event, data) -> (collection, id, fold)` for `models`."""

        def register(plan: Planner) -> Planner:
            async def handle(event: Event, data: Any) -> None:
                await folded(event, data)

            for model in models:
                planners[model.event_type] = plan
                batched.append(model)
                if creates:
                    creating.add(model.event_type)
                on(model)(handle)
            return plan

        return register

    @folding(p.PostCreated, creates=True)
    def post_created(event: Event, data: p.PostCreated) -> Plan:
        fields = _post_fields(data, data.created_at)
        return (
            POST_FOLDS,
            data.id,
            partial(folds.apply_post, post_id=data.id, fields=fields, stamp=stamp(event)),
        )

    @folding(p.PostUpdated)
    def post_updated(event: Event, data: p.PostUpdated) -> Plan:
        fields = {**_post_fields(data, None), "edited_at": data.edited_at}
        return (
            POST_FOLDS,
            data.id,
            partial(folds.apply_post, post_id=data.id, fields=fields, stamp=stamp(event)),
        )

    @folding(p.PostDeleted)
    def post_deleted(event: Event, data: p.PostDeleted) -> Plan:
        return POST_FOLDS, data.id, partial(folds.apply_post_deleted, post_id=data.id)

    @folding(d.AnswerCreated, d.AnswerUpdated)
    def answer_changed(event: Event, data: d.AnswerCreated | d.AnswerUpdated) -> Plan:
        fn = partial(
            folds.apply_answer,
            question_id=data.question_id,
            answer_id=data.id,
            author_id=data.author_id,
            text=data.text,
            stamp=stamp(event),
        )
        return POST_FOLDS, data.question_id, fn

    @folding(d.AnswerDeleted)
    def answer_deleted(event: Event, data: d.AnswerDeleted) -> Plan:
        fn = partial(folds.apply_answer_deleted, question_id=data.question_id, answer_id=data.id)
        return POST_FOLDS, data.question_id, fn

    @folding(d.AnswerAccepted)
    def answer_accepted(event: Event, data: d.AnswerAccepted) -> Plan:
        fn = partial(
            folds.apply_accepted,
            question_id=data.question_id,
            answer_id=data.answer_id,
            accepted=data.accepted,
            stamp=stamp(event),
        )
        return POST_FOLDS, data.question_id, fn

    @on(d.VoteSet)
    async def vote_set(event: Event, data: d.VoteSet) -> None:
        vote_id = f"{data.answer_id}:{data.voter_id}"
        record = {"answer_id": data.answer_id, "question_id": data.question_id, "value": data.value}
        await proj.apply(VOTES, vote_id, partial(_latest, record=record, stamp=stamp(event)))
        votes = proj[VOTES]

        async def score() -> int:
            up = await votes.count({"answer_id": data.answer_id, "value": 1})
            return up - await votes.count({"answer_id": data.answer_id, "value": -1})

        def set_score(value: int) -> Fold:
            return partial(
                folds.set_answer_score,
                question_id=data.question_id,
                answer_id=data.answer_id,
                score=value,
            )

        await settle_count(data.question_id, event, score, set_score)

    async def reaction(event: Event, data: d.ReactionSet | d.ReactionRemoved, active: bool) -> None:
        record = {"post_id": data.post_id, "active": active}
        await proj.apply(REACTIONS, data.id, partial(_latest, record=record, stamp=stamp(event)))

        async def count() -> int:
            return await proj[REACTIONS].count({"post_id": data.post_id, "active": True})

        def set_count(value: int) -> Fold:
            return partial(folds.set_reactions, post_id=data.post_id, count=value)

        await settle_count(data.post_id, event, count, set_count)

    @on(d.ReactionSet)
    async def reaction_set(event: Event, data: d.ReactionSet) -> None:
        await reaction(event, data, True)

    @on(d.ReactionRemoved)
    async def reaction_removed(event: Event, data: d.ReactionRemoved) -> None:
        await reaction(event, data, False)

    async def group_changed(
        event: Event, data: s.GroupCreated | s.GroupUpdated, created_at: Any
    ) -> None:
        fields = {
            "updated_at": event.time,
            "slug": data.slug,
            "name": data.name,
            "description": data.description,
            "visibility": data.visibility,
            "join_policy": data.join_policy,
            "owner_id": data.owner_id,
            "created_at": created_at,
        }
        if await fold(
            GROUP_FOLDS,
            data.id,
            event,
            partial(folds.apply_group, group_id=data.id, fields=fields, stamp=stamp(event)),
        ):
            # The group's posts take their audience from the group's current visibility.
            await touch(POST_FOLDS, {"post.group_id": data.id})

    @on(s.GroupCreated)
    async def group_created(event: Event, data: s.GroupCreated) -> None:
        await group_changed(event, data, data.created_at)
        # The creator is the first owner; no MembershipChanged says so.
        fn = partial(
            folds.apply_membership,
            group_id=data.id,
            user_id=data.owner_id,
            active=True,
            stamp=stamp(event),
        )
        await proj.apply(MEMBERSHIPS, f"{data.id}:{data.owner_id}", fn)

    @on(s.GroupUpdated)
    async def group_updated(event: Event, data: s.GroupUpdated) -> None:
        await group_changed(event, data, None)

    @on(s.GroupDeleted)
    async def group_deleted(event: Event, data: s.GroupDeleted) -> None:
        if await fold(
            GROUP_FOLDS, data.id, event, partial(folds.apply_group_deleted, group_id=data.id)
        ):
            await touch(POST_FOLDS, {"post.group_id": data.id})

    @folding(s.MembershipChanged)
    def membership_changed(event: Event, data: s.MembershipChanged) -> Plan:
        fn = partial(
            folds.apply_membership,
            group_id=data.group_id,
            user_id=data.user_id,
            active=data.state == "active",
            stamp=stamp(event),
        )
        return MEMBERSHIPS, f"{data.group_id}:{data.user_id}", fn

    async def person_changed(event: Event, data: pr.PersonSnapshot) -> None:
        fields = {
            "handle": data.handle.lower(),
            "display_name": data.display_name,
            "title": data.title,
            "department": data.department,
            "avatar_url": data.avatar_url,
            "active": data.active,
            "created_at": event.time,
        }
        if await fold(
            PEOPLE,
            data.id,
            event,
            partial(folds.apply_person, person_id=data.id, fields=fields, stamp=stamp(event)),
        ):
            # Posts show their author's name and department.
            await touch(POST_FOLDS, {"post.author_id": data.id})

    @on(pr.PersonCreated)
    async def person_created(event: Event, data: pr.PersonCreated) -> None:
        await person_changed(event, data)

    @on(pr.PersonUpdated)
    async def person_updated(event: Event, data: pr.PersonUpdated) -> None:
        await person_changed(event, data)

    @folding(pr.PersonDeactivated)
    def person_deactivated(event: Event, data: pr.PersonDeactivated) -> Plan:
        fn = partial(folds.apply_person_active, person_id=data.id, active=False, stamp=stamp(event))
        return PEOPLE, data.id, fn

    @on(pr.PersonReactivated)
    async def person_reactivated(event: Event, data: pr.PersonReactivated) -> None:
        await person_changed(event, data)

    @folding(pe.ExpertiseChanged)
    def expertise_changed(event: Event, data: pe.ExpertiseChanged) -> Plan:
        # score_ref ranks like today's score forever (docs/profiles.md), so it never goes stale.
        fn = partial(
            folds.apply_expertise,
            person_id=data.person_id,
            topic=data.topic_id,
            score=data.score_ref,
            hidden=data.hidden,
            stamp=stamp(event),
        )
        return PEOPLE, data.person_id, fn

    @dispatcher.on_batch(*batched)
    async def fold_batch(items: list[tuple[Event, Any]]) -> None:
        if len(items) == 1:  # nothing to share: the per-event path (a creation is one write)
            await folded(*items[0])
            return
        changes: list[Change] = []
        for event, data in items:
            name, doc_id, fn = planners[event.type](event, data)
            changes.append((name, doc_id, fn, event.time if name in INDEXED else None))
        changed = await proj.apply_many(changes)
        indexed = sorted({name for name, _ in changed if name in INDEXED})
        for name in indexed:
            wake(name)
        if indexed:
            log.debug("search.projection.batch_changed", events=len(items), changed=len(changed))

    return dispatcher


def _latest(
    state: dict[str, Any] | None, *, record: dict[str, Any], stamp: str
) -> dict[str, Any] | None:
    """Last writer wins by stamp (votes, reactions)."""
    if state is not None and state.get("stamp", "") >= stamp:
        return None
    return {**record, "stamp": stamp}


def _post_fields(data: p.PostCreated | p.PostUpdated, created_at: Any) -> dict[str, Any]:
    return {
        "kind": data.kind,
        "author_id": data.author_id,
        "audience": data.audience,
        "group_id": data.group_id,
        "group_visibility": data.group_visibility,
        "title": data.title,
        "text": data.text,
        "url": data.url,
        "resource_type": data.resource_type,
        "topics": list(data.topics),
        "created_at": created_at,
    }

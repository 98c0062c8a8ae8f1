"""The expertise consumer (`profiles.expertise`): activity signals, memberships, follows.

Every handler is idempotent: sources and local copies change by set-like operations, and
projections are versioned compare-and-swaps (see `repository.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import structlog

from services.profiles.expertise.batch import BatchScorer, Endorsed
from services.profiles.expertise.local import LocalCopies
from services.profiles.expertise.scorer import Scorer
from services.profiles.expertise.signals import Scoring, Signal, signal
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.activity.discussion import (
    AnswerAccepted,
    AnswerCreated,
    AnswerDeleted,
    AnswerUpdated,
    ReactionRemoved,
    ReactionSet,
    VoteSet,
)
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostUpdated
from shared.events.schemas.activity.social import (
    FollowCreated,
    FollowRemoved,
    GroupCreated,
    GroupDeleted,
    GroupUpdated,
    MembershipChanged,
)
from shared.events.schemas.profiles_expertise import EndorsementAdded, EndorsementWithdrawn

log = structlog.get_logger()


def _question_fields(data: PostCreated | PostUpdated) -> dict[str, Any]:
    return {
        "author_id": data.author_id,
        "topics": data.topics,
        "audience": data.audience,
        "group_id": data.group_id,
        "group_visibility": data.group_visibility,
        "title": data.title,
    }


def closing(data: Scoring) -> tuple[str, dict[str, Any]] | None:
    """The question an event closes (accepted or deleted: nobody is asked any more)."""
    if isinstance(data, PostDeleted) and data.kind == "question":
        return data.id, {"deleted": True}
    if isinstance(data, AnswerAccepted) and data.accepted:
        return data.question_id, {"state": "answered"}
    return None


def local_effect(local: LocalCopies, data: Scoring) -> Callable[[], Awaitable[None]] | None:
    """What a scoring event changes in the local copies (questions, requests), if anything."""
    if isinstance(data, PostCreated | PostUpdated) and data.kind == "question":

        async def remember() -> None:
            await local.upsert_question(data.id, _question_fields(data))
            await local.request(data.id, [m for m in data.mentions if m != data.author_id])

        return remember
    if (closed := closing(data)) is not None:
        return lambda: local.close(*closed)
    if isinstance(data, AnswerCreated):
        return lambda: local.answered([(data.question_id, data.author_id)])
    if isinstance(data, AnswerAccepted):
        return lambda: local.reopen(data.question_id)
    return None


def group_fields(state: str) -> dict[str, str]:
    """What a group's own event sets on its sources: its state, and, for a visibility, the
    visibility too (so a group turning public outweighs what older posts said)."""
    if state == "deleted":
        return {"group_state": state}
    return {"group_state": state, "group_visibility": state}


async def stamp(local: LocalCopies, signals: list[Signal]) -> dict[str, str | None]:
    """Overlay on each signal what its group's and question's own events said; the group
    states used (None: not known yet), for `restamp_changed` after the write.

    A post's event carries its group's visibility as it was when written; one written
    before the group turned private (or was deleted, or its question was) can be handled
    after that change reached us, on another partition. The more private of the two
    counts (`domain._placement`): neither can leak what the other hides.
    """
    placed = [update["$set"] for _, update in signals if "$set" in update]
    groups = {s["group_id"] for s in placed if s.get("group_id")}
    states = await local.group_states(groups)
    deleted = await local.deleted_questions(
        {s["question_id"] for s in placed if s.get("question_id")}
    )
    for fields in placed:
        if (state := states.get(fields.get("group_id") or "")) is not None:
            fields["group_state"] = state
        if fields.get("question_id") in deleted:
            fields["question_deleted"] = True
    return {g: states.get(g) for g in groups}


async def restamp_changed(local: LocalCopies, scorer: Scorer, used: dict[str, str | None]) -> None:
    """A group event handled while these signals were written (after `stamp` read the
    group's state, its restamp before their sources existed) would leave them with the
    old state: read the states again, and restamp the groups that changed (idempotent)."""
    if not used:
        return
    now = await local.group_states(set(used))
    for group_id in sorted(g for g in used if now.get(g) != used[g]):
        await scorer.restamp({"group_id": group_id}, group_fields(now[group_id]))


def restamp_question(scorer: Scorer, data: Scoring) -> Callable[[], Awaitable[None]] | None:
    """A deleted question takes its answers' worth with it."""
    if not (isinstance(data, PostDeleted) and data.kind == "question"):
        return None

    async def restamp() -> None:
        await scorer.restamp({"question_id": data.id}, {"question_deleted": True})

    return restamp


def build_dispatcher(
    scorer: Scorer, local: LocalCopies, batch: BatchScorer | None = None
) -> EventDispatcher:
    d = EventDispatcher(registry)

    async def score(data: Scoring) -> None:
        found = signal(data)
        if found is not None:
            used = await stamp(local, [found])
            await scorer.source(found)
            await restamp_changed(local, scorer, used)
        for effect in (local_effect(local, data), restamp_question(scorer, data)):
            if effect is not None:
                await effect()

    @d.on(PostCreated)
    async def post_created(event: Event, data: PostCreated) -> None:
        """A note, article or resource counts for its author; a question is remembered."""
        await score(data)

    @d.on(PostUpdated)
    async def post_updated(event: Event, data: PostUpdated) -> None:
        """Re-tagging moves the post's contribution between topics."""
        await score(data)

    @d.on(PostDeleted)
    async def post_deleted(event: Event, data: PostDeleted) -> None:
        """A deleted post stops counting; a deleted question stops loading anyone."""
        await score(data)

    @d.on(AnswerCreated)
    async def answer_created(event: Event, data: AnswerCreated) -> None:
        """Answering counts a little; the answerer's request on that question is done."""
        await score(data)

    @d.on(AnswerUpdated)
    async def answer_updated(event: Event, data: AnswerUpdated) -> None:
        """Keep the answer's topics and placement current."""
        await score(data)

    @d.on(AnswerDeleted)
    async def answer_deleted(event: Event, data: AnswerDeleted) -> None:
        """A deleted answer stops counting (votes and acceptance included)."""
        await score(data)

    @d.on(AnswerAccepted)
    async def answer_accepted(event: Event, data: AnswerAccepted) -> None:
        """Acceptance weighs most; withdrawing it subtracts exactly that."""
        await score(data)

    @d.on(VoteSet)
    async def vote_set(event: Event, data: VoteSet) -> None:
        """Net votes on an answer count for its author."""
        await score(data)

    @d.on(ReactionSet)
    async def reaction_set(event: Event, data: ReactionSet) -> None:
        """Others reacting to a shared resource is evidence it was worth sharing."""
        await score(data)

    @d.on(ReactionRemoved)
    async def reaction_removed(event: Event, data: ReactionRemoved) -> None:
        """A withdrawn reaction stops counting."""
        await score(data)

    @d.on(FollowCreated)
    async def follow_created(event: Event, data: FollowCreated) -> None:
        """Remember follows (suggestions skip people already followed)."""
        fields = {
            "follower_id": data.follower_id,
            "target_type": data.target_type,
            "target_id": data.target_id,
        }
        await local.set_follow(data.id, fields, True)

    @d.on(FollowRemoved)
    async def follow_removed(event: Event, data: FollowRemoved) -> None:
        """Forget a removed follow."""
        await local.set_follow(data.id, {}, False)

    @d.on(GroupCreated)
    async def group_created(event: Event, data: GroupCreated) -> None:
        """The creator is the group's first member (no membership event for them)."""
        await local.set_group(data.id, data.visibility, 0)
        await local.set_member(data.id, data.owner_id, True)

    @d.on(GroupUpdated)
    async def group_updated(event: Event, data: GroupUpdated) -> None:
        """A group turning private (or public) takes its evidence with it: from then on
        it is shown only to members (or to all), and a topic it alone supports likewise."""
        state = await local.set_group(data.id, data.visibility, data.revision)
        if data.visibility != data.previous_visibility:
            moved = await scorer.restamp({"group_id": data.id}, group_fields(state))
            log.info(
                "profiles.expertise.group_restamped", group_id=data.id, state=state, sources=moved
            )

    @d.on(GroupDeleted)
    async def group_deleted(event: Event, data: GroupDeleted) -> None:
        """Everything posted in a deleted group is gone: it stops counting for anyone."""
        await local.set_group(data.id, "deleted")
        moved = await scorer.restamp({"group_id": data.id}, group_fields("deleted"))
        await local.drop_group(data.id)
        log.info(
            "profiles.expertise.group_restamped", group_id=data.id, state="deleted", sources=moved
        )

    @d.on(MembershipChanged)
    async def membership_changed(event: Event, data: MembershipChanged) -> None:
        """Active members see the group's evidence; everyone else does not."""
        await local.set_member(data.group_id, data.user_id, data.state == "active")

    async def endorsement(data: EndorsementAdded | EndorsementWithdrawn, active: bool) -> None:
        await scorer.endorsement(
            endorser_id=data.endorser_id,
            person_id=data.person_id,
            skill_id=data.skill_id,
            active=active,
            at=data.at,
            revision=data.revision,
        )

    @d.on(EndorsementAdded)
    async def endorsement_added(event: Event, data: EndorsementAdded) -> None:
        """Re-apply an endorsement (the skills feature applies it at once; this repairs)."""
        await endorsement(data, True)

    @d.on(EndorsementWithdrawn)
    async def endorsement_withdrawn(event: Event, data: EndorsementWithdrawn) -> None:
        """Re-apply a withdrawal."""
        await endorsement(data, False)

    if batch is not None:
        d.on_batch(*SCORING_MODELS)(batch_handler(batch, local, scorer))
    return d


SCORING_MODELS = (
    PostCreated,
    PostUpdated,
    PostDeleted,
    AnswerCreated,
    AnswerUpdated,
    AnswerDeleted,
    AnswerAccepted,
    VoteSet,
    ReactionSet,
    ReactionRemoved,
    EndorsementAdded,
    EndorsementWithdrawn,
)
BatchItems = list[tuple[Event, Any]]


def batch_handler(
    batch: BatchScorer, local: LocalCopies, scorer: Scorer
) -> Callable[[BatchItems], Awaitable[None]]:
    """The batched path of the scoring events (batch.py); same effects as their handlers."""

    async def handle(items: BatchItems) -> None:
        signals: list[Signal] = []
        endorsements: list[Endorsed] = []
        answers: list[tuple[str, str]] = []
        effects: list[Callable[[], Awaitable[None]]] = []
        run: list[tuple[str, dict[str, Any]]] | None = None  # consecutive closes, one write
        for _, data in items:
            if isinstance(data, EndorsementAdded | EndorsementWithdrawn):
                endorsements.append(
                    Endorsed(
                        endorser_id=data.endorser_id,
                        person_id=data.person_id,
                        skill_id=data.skill_id,
                        active=isinstance(data, EndorsementAdded),
                        at=data.at,
                        revision=data.revision,
                    )
                )
                continue
            if (found := signal(data)) is not None:
                signals.append(found)
            if (restamp := restamp_question(scorer, data)) is not None:
                effects.append(restamp)
            if isinstance(data, AnswerCreated):
                answers.append((data.question_id, data.author_id))
            elif (closed := closing(data)) is not None:
                if run is None:
                    run = []
                    effects.append(partial(local.close_many, run))
                run.append(closed)
            elif (effect := local_effect(local, data)) is not None:
                effects.append(effect)
                run = None
        used = await stamp(local, signals)
        await batch.apply(signals, endorsements)
        await restamp_changed(local, scorer, used)
        # Local copies change by set-like writes. "X answered Q" goes first, for the whole
        # batch at once: every other effect reads those facts rather than their order
        # (requesting someone who answered adds nothing; an answer ends a request made
        # before it), so the result is that of offset order. The rest go in offset order,
        # a run of closes as one write (closing is set-like: order within a run is moot).
        await local.answered(answers)
        for effect in effects:
            await effect()

    return handle

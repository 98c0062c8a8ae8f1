"""Expertise scoring through the consumer's handlers: decay, redelivery, exact deletion,
hidden topics and private-group evidence (both backends, injectable clock)."""

from __future__ import annotations

from datetime import timedelta

from services.profiles.expertise.domain import WEIGHTS, breadth_score
from shared.events.schemas.activity.discussion import AnswerDeleted, ReactionSet
from shared.events.schemas.activity.posts import PostDeleted, PostUpdated
from shared.events.schemas.activity.social import GroupCreated, MembershipChanged
from shared.settings import CanteenSettings
from tests.profiles.test_expertise_support import (
    NOW,
    accepted,
    add_people,
    answer,
    approx,
    harness,
    me,
    post,
    question,
    vote,
)

H = 180.0


async def test_evidence_two_half_lives_old_weighs_a_quarter(settings: CanteenSettings) -> None:
    async with harness(settings, half_life_days=H) as h:
        await add_people(h.store, {"_id": "ana"}, {"_id": "bob"})
        old = NOW - timedelta(days=2 * H)
        await h.deliver(
            post("p-old", "ana", "article", ["rust"], at=old),
            post("p-new", "bob", "article", ["rust"], at=NOW),
        )
        experts = await h.service.experts(me("cy"), "rust", 10)
        by_person = {e["person_id"]: e for e in experts}
        assert [e["person_id"] for e in experts] == ["bob", "ana"]
        # One source each: the breadth factor n/(n+1) is 1/2 for both.
        assert approx(by_person["bob"]["score"], WEIGHTS.article / 2)
        assert approx(by_person["ana"]["score"], WEIGHTS.article / 4 / 2)
        assert approx(by_person["ana"]["evidence"][0]["weight"], WEIGHTS.article / 4)
        # Time passes, nothing is rewritten: both halve after one more half-life.
        h.clock.now = NOW + timedelta(days=H)
        experts = await h.service.experts(me("cy"), "rust", 10)
        assert approx(experts[0]["score"], WEIGHTS.article / 2 / 2)
        assert approx(experts[1]["score"], WEIGHTS.article / 8 / 2)
        assert approx(experts[1]["evidence"][0]["weight"], WEIGHTS.article / 8)


async def test_a_redelivered_event_counts_once(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        events = await h.deliver(
            question("q1", "bob", ["go"]),
            answer("a1", "q1", "bob", "ana", ["go"]),
            vote("a1", "q1", "ana", "cy", 1, 0, ["go"]),
            accepted("a1", "q1", "bob", "ana", ["go"]),
        )
        first = await h.expertise("ana", "go")
        await h.deliver(*events, *reversed(events[1:]), *events)
        again = await h.expertise("ana", "go")
        assert first is not None and again is not None
        expected = WEIGHTS.answer + WEIGHTS.answer_vote + WEIGHTS.accepted_answer
        assert approx(first["score_ref"], again["score_ref"])
        experts = await h.service.experts(me("cy"), "go", 10)
        assert approx(experts[0]["score"], breadth_score([expected]))


async def test_deletions_and_changes_subtract_exactly(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        topics = ["sql"]
        await h.deliver(
            post("p1", "ana", "note", topics),
            question("q1", "bob", topics),
            answer("a1", "q1", "bob", "ana", topics),
            accepted("a1", "q1", "bob", "ana", topics),
            vote("a1", "q1", "ana", "v1", 1, 0, topics),
            vote("a1", "q1", "ana", "v2", 1, 0, topics),
        )

        async def score() -> float:
            experts = await h.service.experts(me("cy"), "sql", 10)
            return float(experts[0]["score"]) if experts else 0.0

        note, w = WEIGHTS.note, WEIGHTS
        assert approx(
            await score(), breadth_score([note, w.answer + w.accepted_answer + 2 * w.answer_vote])
        )
        # A vote changed from +1 to -1: two votes' worth less.
        await h.deliver(vote("a1", "q1", "ana", "v2", -1, 1, topics))
        assert approx(await score(), breadth_score([note, w.answer + w.accepted_answer]))
        # Acceptance withdrawn, then the answer deleted, then the note deleted: nothing left.
        await h.deliver(accepted("a1", "q1", "bob", "ana", topics, yes=False))
        assert approx(await score(), breadth_score([note, w.answer]))
        await h.deliver(
            AnswerDeleted(
                id="a1",
                question_id="q1",
                question_author_id="bob",
                author_id="ana",
                deleted_by="ana",
                topics=topics,
                audience="org",
                deleted_at=NOW,
            )
        )
        assert approx(await score(), breadth_score([note]))
        await h.deliver(
            PostDeleted(
                id="p1",
                kind="note",
                author_id="ana",
                deleted_by="ana",
                audience="org",
                deleted_at=NOW,
            )
        )
        doc = await h.expertise("ana", "sql")
        assert doc is not None and doc["score_ref"] == 0
        assert await h.service.experts(me("cy"), "sql", 10) == []


async def test_retagging_moves_the_contribution(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await h.deliver(post("p1", "ana", "article", ["java"]))
        await h.deliver(
            PostUpdated(
                id="p1",
                kind="article",
                author_id="ana",
                editor_id="ana",
                audience="org",
                text="body",
                topics=["kotlin"],
                revision=1,
                edited_at=NOW,
            )
        )
        assert await h.service.experts(me("cy"), "java", 10) == []
        [expert] = await h.service.experts(me("cy"), "kotlin", 10)
        assert approx(expert["score"], breadth_score([WEIGHTS.article]))


async def test_resources_others_reacted_to_weigh_more(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await h.deliver(
            post("r1", "ana", "resource", ["css"]), post("r2", "bob", "resource", ["css"])
        )
        for user in ("x", "y", "ana"):
            await h.deliver(
                ReactionSet(
                    id=f"post:r1:{user}",
                    target_type="post",
                    target_id="r1",
                    target_author_id="ana",
                    post_id="r1",
                    user_id=user,
                    kind="like",
                    audience="org",
                    at=NOW,
                )
            )
        experts = await h.service.experts(me("cy"), "css", 10)
        assert [e["person_id"] for e in experts] == ["ana", "bob"]
        # Her own reaction does not count.
        assert approx(
            experts[0]["score"],
            breadth_score([WEIGHTS.resource + 2 * WEIGHTS.resource_reaction]),
        )


async def test_hidden_topics_are_public_nowhere(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"}, {"_id": "bob"})
        await h.deliver(
            post("p1", "ana", "article", ["ml"]),
            post("p2", "ana", "article", ["stats"]),
            post("p3", "bob", "note", ["ml"]),
            question("q1", "cy", ["ml"]),
        )
        await h.service.set_hidden(me("ana"), "ml", True)
        assert [e["person_id"] for e in await h.service.experts(me("cy"), "ml", 10)] == ["bob"]
        others = await h.service.of_person(me("cy"), "ana")
        assert [t["topic"] for t in others] == ["stats"]
        own = await h.service.of_person(me("ana"), "ana")
        assert {(t["topic"], t["hidden"]) for t in own} == {("ml", True), ("stats", False)}
        assert [p["person_id"] for p in await h.service.for_question(me("cy"), "q1")] == ["bob"]
        doc = await h.expertise("ana", "ml")
        assert doc is not None and doc["hidden"] is True
        # The event for search says hidden.
        changed = [e for e in doc["_outbox"] if e["subject"] == "ana:ml"]
        assert changed[-1]["data"]["hidden"] is True
        await h.service.set_hidden(me("ana"), "ml", False)
        experts = await h.service.experts(me("cy"), "ml", 10)
        assert [e["person_id"] for e in experts] == ["ana", "bob"]


async def test_private_group_content_never_counts_toward_expertise(
    settings: CanteenSettings,
) -> None:
    """Expertise is public: a private community's posts would leak their topics through it."""
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        private = {"audience": "group", "group_id": "g1", "group_visibility": "private"}
        await h.deliver(
            GroupCreated(
                id="g1",
                slug="g1",
                name="G1",
                visibility="private",
                join_policy="invite",
                owner_id="owner",
                actor_id="owner",
                created_at=NOW,
            ),
            MembershipChanged(
                group_id="g1",
                user_id="mem",
                change="joined",
                state="active",
                previous_state="none",
                actor_id="mem",
                group_visibility="private",
                group_slug="g1",
                group_name="G1",
                changed_at=NOW,
            ),
            post("secret", "ana", "article", ["crypto", "zephyr"], **private),
            post("open", "ana", "note", ["crypto"]),
        )
        for viewer in ("mem", "owner", "out", "ana"):
            [expert] = await h.service.experts(me(viewer), "crypto", 10)
            assert approx(expert["score"], breadth_score([WEIGHTS.note])), viewer
            assert {e["ref_id"] for e in expert["evidence"]} == {"open"}, viewer
            topics = await h.service.of_person(me(viewer), "ana")
            assert [t["topic"] for t in topics] == ["crypto"], viewer
            # The topic used only in the private group is nobody's expertise.
            assert await h.service.experts(me(viewer), "zephyr", 10) == [], viewer


async def test_deactivated_people_never_appear(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana", "active": False}, {"_id": "bob"})
        await h.deliver(post("p1", "ana", "article", ["go"]), post("p2", "bob", "note", ["go"]))
        assert [e["person_id"] for e in await h.service.experts(me("cy"), "go", 10)] == ["bob"]

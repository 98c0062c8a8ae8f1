"""Expertise scoring through the consumer's handlers: decay, redelivery, exact deletion,
hidden topics and private-group evidence (both backends, injectable clock)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.profiles.expertise.domain import WEIGHTS, breadth_score
from shared.events.envelope import EventData
from shared.events.schemas.activity.discussion import AnswerDeleted, ReactionSet
from shared.events.schemas.activity.posts import PostDeleted, PostUpdated
from shared.events.schemas.activity.social import FollowCreated, GroupCreated, MembershipChanged
from shared.settings import CanteenSettings
from tests.profiles.test_expertise_support import (
    NOW,
    Harness,
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


def _private_group(group: str, owner: str, *members: str) -> list[EventData]:
    """A private group `group` owned by `owner`, with `members` active in it."""
    return [
        GroupCreated(
            id=group,
            slug=group,
            name=group.upper(),
            visibility="private",
            join_policy="invite",
            owner_id=owner,
            actor_id=owner,
            created_at=NOW,
        ),
        *(_membership(group, m, "active") for m in members),
    ]


def _membership(group: str, user: str, state: str) -> MembershipChanged:
    return MembershipChanged(
        group_id=group,
        user_id=user,
        change="joined" if state == "active" else "left",
        state=state,  # type: ignore[arg-type]
        previous_state="none" if state == "active" else "active",
        actor_id=user,
        group_visibility="private",
        group_slug=group,
        group_name=group.upper(),
        changed_at=NOW,
    )


def _in(group: str) -> dict[str, Any]:
    return {"audience": "group", "group_id": group, "group_visibility": "private"}


def _follows(follower: str, topic: str) -> FollowCreated:
    return FollowCreated(
        id=f"{follower}:topic:{topic}",
        follower_id=follower,
        target_type="topic",
        target_id=topic,
        created_at=NOW,
    )


async def _published_topics(h: Harness) -> set[str]:
    """Every topic an `expertise.changed` in the outbox names (what search would index)."""
    docs = await h.store.collection("expertise").find({})
    return {e["data"]["topic_id"] for d in docs for e in d.get("_outbox", [])}


async def test_private_group_evidence_counts_but_shows_to_members_only(
    settings: CanteenSettings,
) -> None:
    """The issue's rule: the private article counts for everyone's view of the score; the
    article itself is evidence only to members of its group."""
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        await h.deliver(
            *_private_group("g1", "owner", "mem", "ana"),
            post("secret", "ana", "article", ["crypto"], **_in("g1")),
            post("open", "ana", "note", ["crypto"]),
        )
        both = breadth_score([WEIGHTS.article, WEIGHTS.note])
        for viewer, shown in (
            ("mem", {"secret", "open"}),
            ("owner", {"secret", "open"}),
            ("ana", {"secret", "open"}),
            ("out", {"open"}),
        ):
            [expert] = await h.service.experts(me(viewer), "crypto", 10)
            assert approx(expert["score"], both), viewer
            assert {e["ref_id"] for e in expert["evidence"]} == shown, viewer
            [topic] = await h.service.of_person(me(viewer), "ana")
            assert approx(topic["score"], both), viewer
            assert {e["ref_id"] for e in topic["evidence"]} == shown, viewer
        # Search is told the whole score of a topic everyone may see.
        doc = await h.expertise("ana", "crypto")
        assert doc is not None
        [*_, last] = [e["data"] for e in doc["_outbox"]]
        assert approx(last["score_ref"], doc["score_ref"]) and last["hidden"] is False
        # Leaving the group hides its evidence again, on the next read.
        await h.deliver(_membership("g1", "mem", "none"))
        [expert] = await h.service.experts(me("mem"), "crypto", 10)
        assert {e["ref_id"] for e in expert["evidence"]} == {"open"}
        assert approx(expert["score"], both)


async def test_a_topic_only_private_groups_support_is_listed_to_their_members_only(
    settings: CanteenSettings,
) -> None:
    """Its name would leak through a listing, a rank, a suggestion or search's facets."""
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"}, {"_id": "mem"}, {"_id": "out"})
        await h.deliver(
            *_private_group("g1", "owner", "mem", "ana"),
            *_private_group("g2", "owner2", "ana"),
            post("secret", "ana", "article", ["zephyr", "crypto"], **_in("g1")),
            question("q2", "owner2", ["zephyr"], **_in("g2")),
            answer("a2", "q2", "owner2", "ana", ["zephyr"], **_in("g2")),
            post("open", "ana", "note", ["crypto"]),
            question("qo", "out", ["zephyr"]),
            question("qm", "mem", ["zephyr"]),
            _follows("out", "zephyr"),
            _follows("mem", "zephyr"),
        )
        score = breadth_score([WEIGHTS.article, WEIGHTS.answer])
        for viewer, shown in (("mem", {"secret"}), ("owner2", {"a2"}), ("ana", {"secret", "a2"})):
            [expert] = await h.service.experts(me(viewer), "zephyr", 10)
            assert approx(expert["score"], score), viewer
            assert {e["ref_id"] for e in expert["evidence"]} == shown, viewer
            topics = await h.service.of_person(me(viewer), "ana")
            assert {t["topic"] for t in topics} == {"zephyr", "crypto"}, viewer
        [asked] = await h.service.for_question(me("mem"), "qm")
        assert asked["person_id"] == "ana" and asked["topics"] == ["zephyr"]
        assert {e["ref_id"] for e in asked["evidence"]} == {"secret"}
        suggested = await h.service.suggestions(me("mem"), "mem")
        assert {"person_id": "ana", "reason": "expert", "topic": "zephyr"}.items() <= next(
            s for s in suggested if s["person_id"] == "ana"
        ).items()

        # A non-member learns nothing of it: no listing, rank, question match or suggestion.
        assert await h.service.experts(me("out"), "zephyr", 10) == []
        topics = await h.service.of_person(me("out"), "ana")
        assert [t["topic"] for t in topics] == ["crypto"]
        assert {e["ref_id"] for e in topics[0]["evidence"]} == {"open"}
        assert await h.service.for_question(me("out"), "qo") == []
        assert await h.service.suggestions(me("out"), "out") == []
        # Nor does any other service: no `expertise.changed` names it.
        assert await _published_topics(h) == {"crypto"}
        doc = await h.expertise("ana", "zephyr")
        assert doc is not None and doc["public"] is False
        assert doc["private_groups"] == ["g1", "g2"]
        # Hiding and showing it tells search nothing either.
        await h.service.set_hidden(me("ana"), "zephyr", True)
        await h.service.set_hidden(me("ana"), "zephyr", False)
        assert await _published_topics(h) == {"crypto"}


async def test_a_topic_left_with_only_private_evidence_is_withdrawn_from_search(
    settings: CanteenSettings,
) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        await h.deliver(
            *_private_group("g1", "owner", "ana"),
            post("secret", "ana", "article", ["crypto"], **_in("g1")),
            post("open", "ana", "note", ["crypto"]),
        )
        [expert] = await h.service.experts(me("out"), "crypto", 10)
        await h.deliver(
            PostDeleted(
                id="open",
                kind="note",
                author_id="ana",
                deleted_by="ana",
                audience="org",
                deleted_at=NOW,
            )
        )
        assert await h.service.experts(me("out"), "crypto", 10) == []
        [expert] = await h.service.experts(me("ana"), "crypto", 10)
        assert approx(expert["score"], breadth_score([WEIGHTS.article]))
        doc = await h.expertise("ana", "crypto")
        assert doc is not None
        # Withdrawn as hidden (every consumer drops those), with no score to go on.
        last = doc["_outbox"][-1]["data"]
        assert last["hidden"] is True and last["score_ref"] == 0


async def test_deactivated_people_never_appear(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana", "active": False}, {"_id": "bob"})
        await h.deliver(post("p1", "ana", "article", ["go"]), post("p2", "bob", "note", ["go"]))
        assert [e["person_id"] for e in await h.service.experts(me("cy"), "go", 10)] == ["bob"]


async def _ana_bob_cy_and_kubernetes(h: Harness) -> None:
    """Three people, and Kubernetes in the taxonomy with its alias `k8s`."""
    await add_people(h.store, {"_id": "ana"}, {"_id": "bob"}, {"_id": "cy"})
    await h.store.collection("skills").insert_one(
        {"_id": "kubernetes", "name": "Kubernetes", "aliases": ["k8s"], "parent_id": None}
    )


async def test_experts_of_a_topic_are_found_by_any_of_its_skill_names(
    settings: CanteenSettings,
) -> None:
    """`k8s` is an alias of Kubernetes in the taxonomy: either name finds people tagged with
    either one, each person once (their best), named by the canonical topic."""
    async with harness(settings) as h:
        await _ana_bob_cy_and_kubernetes(h)
        await h.deliver(
            post("p1", "ana", "article", ["kubernetes"]),
            post("p2", "bob", "note", ["k8s"]),
            post("p3", "cy", "resource", ["k8s"]),
            post("p4", "cy", "note", ["kubernetes"]),
            post("p5", "bob", "note", ["helm"]),
        )
        for asked in ("k8s", "kubernetes"):
            experts = await h.service.experts(me("dee"), asked, 10)
            assert [e["person_id"] for e in experts] == ["ana", "cy", "bob"], asked
            assert {e["topic"] for e in experts} == {"kubernetes"}, asked
            assert approx(experts[1]["score"], breadth_score([WEIGHTS.resource])), asked
        # A topic the taxonomy does not know is itself.
        [helm] = await h.service.experts(me("dee"), "helm", 10)
        assert helm["person_id"] == "bob" and helm["topic"] == "helm"


async def test_who_to_ask_and_suggestions_know_a_topics_other_names(
    settings: CanteenSettings,
) -> None:
    """A question tagged `k8s` finds the people whose work is tagged `kubernetes`, counted
    once when it carries both names; following `k8s` suggests them too."""
    async with harness(settings) as h:
        await _ana_bob_cy_and_kubernetes(h)
        await h.deliver(
            post("p1", "ana", "article", ["kubernetes"]),
            post("p2", "bob", "note", ["k8s"]),
            question("q1", "cy", ["k8s"]),
            question("q2", "cy", ["k8s", "kubernetes"]),
            _follows("cy", "k8s"),
        )
        for qid in ("q1", "q2"):
            asked = await h.service.for_question(me("cy"), qid)
            assert [a["person_id"] for a in asked] == ["ana", "bob"], qid
            assert approx(asked[0]["score"], breadth_score([WEIGHTS.article])), qid
        suggested = {s["person_id"]: s for s in await h.service.suggestions(me("cy"), "cy")}
        assert suggested["ana"]["reason"] == "expert" and suggested["ana"]["topic"] == "k8s"
        assert suggested["bob"]["reason"] == "expert"

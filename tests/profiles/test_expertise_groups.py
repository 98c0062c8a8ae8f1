"""Evidence follows its group and its question: a group turning private (or public again),
a deleted group, a deleted question — including events written before the change and
handled after it (both backends, both consumer paths)."""

from __future__ import annotations

from typing import Any

import pytest

from services.profiles.expertise.domain import WEIGHTS, breadth_score
from services.profiles.expertise.service import QuestionNotFound
from shared.events.envelope import EventData
from shared.events.schemas.activity.posts import PostDeleted, PostUpdated
from shared.events.schemas.activity.social import (
    GroupCreated,
    GroupDeleted,
    GroupUpdated,
    MembershipChanged,
)
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

GROUP: dict[str, Any] = {"slug": "g1", "name": "G1", "join_policy": "open", "owner_id": "owner"}


def _created(visibility: str) -> GroupCreated:
    return GroupCreated(id="g1", visibility=visibility, actor_id="owner", created_at=NOW, **GROUP)


def _updated(visibility: str, previous: str, revision: int) -> GroupUpdated:
    return GroupUpdated(
        id="g1",
        visibility=visibility,
        previous_visibility=previous,
        revision=revision,
        updated_at=NOW,
        actor_id="owner",
        **GROUP,
    )


def _joined(user: str, visibility: str) -> MembershipChanged:
    return MembershipChanged(
        group_id="g1",
        user_id=user,
        change="joined",
        state="active",
        previous_state="none",
        actor_id=user,
        group_visibility=visibility,  # type: ignore[arg-type]
        group_slug="g1",
        group_name="G1",
        changed_at=NOW,
    )


def _in(visibility: str) -> dict[str, Any]:
    return {"audience": "group", "group_id": "g1", "group_visibility": visibility}


def _edited(pid: str, visibility: str, revision: int) -> PostUpdated:
    """An edit of ana's article written while the group had `visibility`."""
    return PostUpdated(
        id=pid,
        kind="article",
        author_id="ana",
        editor_id="ana",
        text="body v2",
        topics=["zephyr"],
        revision=revision,
        edited_at=NOW,
        **_in(visibility),
    )


async def _deliver(h: Harness, path: str, *payloads: EventData) -> None:
    if path == "batch":
        await h.deliver_batch(*payloads)
    else:
        await h.deliver(*payloads)


async def _experts(h: Harness, viewer: str, topic: str) -> list[str]:
    return [e["person_id"] for e in await h.service.experts(me(viewer), topic, 10)]


async def _last_published(h: Harness, person: str, topic: str) -> dict[str, Any]:
    doc = await h.expertise(person, topic)
    assert doc is not None
    return dict(doc["_outbox"][-1]["data"])


@pytest.mark.parametrize("path", ["single", "batch"])
async def test_a_group_turning_private_takes_its_evidence_with_it(
    settings: CanteenSettings, path: str
) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        await h.deliver(_created("public"), _joined("ana", "public"), _joined("mem", "public"))
        await _deliver(h, path, post("p1", "ana", "article", ["zephyr"], **_in("public")))
        assert await _experts(h, "out", "zephyr") == ["ana"]

        await h.deliver(_updated("private", "public", 1))
        # Now only members see the topic, and search is told to drop it.
        assert await _experts(h, "out", "zephyr") == []
        assert await h.service.of_person(me("out"), "ana") == []
        assert await _experts(h, "mem", "zephyr") == ["ana"]
        published = await _last_published(h, "ana", "zephyr")
        assert published["hidden"] is True and published["score_ref"] == 0
        # The score still counts the private evidence, for its members.
        [expert] = await h.service.experts(me("mem"), "zephyr", 10)
        assert approx(expert["score"], breadth_score([WEIGHTS.article]))

        # An edit and a new post written before the change, handled after it (another
        # partition): they say "public", but the group's own event came later and wins.
        await _deliver(
            h,
            path,
            _edited("p1", "public", 1),
            post("p2", "ana", "note", ["zephyr"], **_in("public")),
        )
        assert await _experts(h, "out", "zephyr") == []
        assert await _experts(h, "mem", "zephyr") == ["ana"]

        # Public again: shown to all and published again; an older, redelivered change
        # to private does not undo it.
        await h.deliver(_updated("public", "private", 2))
        assert await _experts(h, "out", "zephyr") == ["ana"]
        assert (await _last_published(h, "ana", "zephyr"))["hidden"] is False
        await h.deliver(_updated("private", "public", 1))
        assert await _experts(h, "out", "zephyr") == ["ana"]


@pytest.mark.parametrize("path", ["single", "batch"])
async def test_everything_in_a_deleted_group_stops_counting(
    settings: CanteenSettings, path: str
) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        await h.deliver(_created("public"), _joined("ana", "public"))
        await _deliver(
            h,
            path,
            post("p1", "ana", "article", ["zephyr"], **_in("public")),
            post("p2", "ana", "note", ["zephyr"]),
            question("q1", "bob", ["zephyr"], **_in("public")),
            answer("a1", "q1", "bob", "ana", ["zephyr"], **_in("public")),
        )
        await h.deliver(
            GroupDeleted(id="g1", visibility="public", actor_id="owner", deleted_at=NOW, **GROUP)
        )
        # Only the note outside the group is left, for everyone (ana included).
        for viewer in ("out", "ana"):
            [expert] = await h.service.experts(me(viewer), "zephyr", 10)
            assert approx(expert["score"], breadth_score([WEIGHTS.note])), viewer
            assert [e["ref_id"] for e in expert["evidence"]] == ["p2"], viewer
        # Late events from before the deletion bring nothing back, nor add anything.
        await _deliver(
            h,
            path,
            _edited("p1", "public", 1),
            vote("a1", "q1", "ana", "cy", 1, 0, ["zephyr"]),
            post("p3", "ana", "article", ["zephyr"], **_in("public")),
        )
        [expert] = await h.service.experts(me("out"), "zephyr", 10)
        assert [e["ref_id"] for e in expert["evidence"]] == ["p2"]
        assert approx(expert["score"], breadth_score([WEIGHTS.note]))


@pytest.mark.parametrize("path", ["single", "batch"])
async def test_answers_under_a_deleted_question_stop_counting(
    settings: CanteenSettings, path: str
) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        topics = ["sql"]
        await _deliver(
            h,
            path,
            question("q1", "bob", topics),
            answer("a1", "q1", "bob", "ana", topics),
            accepted("a1", "q1", "bob", "ana", topics),
            post("p1", "ana", "note", topics),
        )
        deleted = PostDeleted(
            id="q1",
            kind="question",
            author_id="bob",
            deleted_by="bob",
            audience="org",
            deleted_at=NOW,
        )
        await _deliver(h, path, deleted)
        [expert] = await h.service.experts(me("cy"), "sql", 10)
        assert approx(expert["score"], breadth_score([WEIGHTS.note]))
        assert [e["ref_id"] for e in expert["evidence"]] == ["p1"]
        # A vote and an answer from before the deletion, handled after it, count for
        # nothing either.
        await _deliver(
            h,
            path,
            vote("a1", "q1", "ana", "cy", 1, 0, topics),
            answer("a2", "q1", "bob", "ana", topics),
        )
        [expert] = await h.service.experts(me("cy"), "sql", 10)
        assert approx(expert["score"], breadth_score([WEIGHTS.note]))


@pytest.mark.parametrize("path", ["single", "batch"])
async def test_a_post_written_after_the_change_but_handled_before_it_stays_private(
    settings: CanteenSettings, path: str
) -> None:
    """The other order: the group turned private, a post written after that (saying
    private) is handled before the group's event: what we knew of the group (public) must
    not make it public. The group's event, then its turning public again, apply as usual."""
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        await h.deliver(_created("public"), _joined("ana", "public"), _joined("mem", "public"))
        await _deliver(h, path, post("p1", "ana", "article", ["zephyr"], **_in("private")))
        assert await _experts(h, "out", "zephyr") == []
        assert await _experts(h, "mem", "zephyr") == ["ana"]
        await h.deliver(_updated("private", "public", 1))
        assert await _experts(h, "out", "zephyr") == []
        await h.deliver(_updated("public", "private", 2))
        assert await _experts(h, "out", "zephyr") == ["ana"]


async def test_who_to_ask_follows_a_group_that_turned_private(settings: CanteenSettings) -> None:
    async with harness(settings) as h:
        await add_people(h.store, {"_id": "ana"})
        await h.deliver(
            _created("public"),
            _joined("mem", "public"),
            post("p1", "ana", "article", ["zephyr"]),
            question("q1", "owner", ["zephyr"], **_in("public")),
        )
        assert [a["person_id"] for a in await h.service.for_question(me("out"), "q1")] == ["ana"]
        await h.deliver(_updated("private", "public", 1))
        with pytest.raises(QuestionNotFound):
            await h.service.for_question(me("out"), "q1")
        assert [a["person_id"] for a in await h.service.for_question(me("mem"), "q1")] == ["ana"]

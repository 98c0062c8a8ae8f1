"""Private-group content is notified to the group's members only, for every type an
activity in a group can bring: a comment on your post, a reply to your comment, an answer
to your question, a reaction, and a new question for a topic's top expert."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from shared.bus.port import EventBus
from shared.events.envelope import EventData
from tests.conftest import Login
from tests.notify.test_inbox_support import (
    answer,
    bus,
    comment,
    expertise,
    follow,
    group_place,
    inbox,
    join,
    post,
    publish,
    publish_behind,
    reaction,
    uid,
)
from tests.support import eventually

__all__ = ["bus"]


@dataclass(frozen=True)
class Case:
    """An event in private group `group` by `actor` that would notify `recipient`."""

    type: str
    make: Callable[[str, str, str, str], tuple[EventData, str]]  # -> (event, target id)


def _comment(recipient: str, actor: str, group: str, _: str) -> tuple[EventData, str]:
    note = uid("post")
    return comment(note, recipient, actor, group=group, visibility="private"), note


def _reply(recipient: str, actor: str, group: str, _: str) -> tuple[EventData, str]:
    parent = uid("comment")
    reply = comment(
        uid("post"),
        actor,
        actor,
        parent_id=parent,
        parent_author_id=recipient,
        group=group,
        visibility="private",
    )
    return reply, parent


def _answer(recipient: str, actor: str, group: str, _: str) -> tuple[EventData, str]:
    question = uid("q")
    return answer(question, recipient, actor, group=group, visibility="private"), question


def _reaction(recipient: str, actor: str, group: str, _: str) -> tuple[EventData, str]:
    note = uid("post")
    liked = reaction("post", note, recipient, actor, note)
    return liked.model_copy(update=group_place(group, "private")), note


def _question(recipient: str, actor: str, group: str, topic: str) -> tuple[EventData, str]:
    # `topic` is one where `recipient` alone is an expert.
    asked = post(actor, kind="question", topics=[topic], group=group, visibility="private")
    return asked, asked.id


CASES = {
    "comment-on-your-post": Case("comment.created", _comment),
    "reply-to-your-comment": Case("comment.replied", _reply),
    "answer-to-your-question": Case("answer.created", _answer),
    "reaction-to-your-post": Case("reaction", _reaction),
    "question-for-a-top-expert": Case("question.expert_needed", _question),
}


async def experts_known(
    bus: EventBus, client: httpx.AsyncClient, login: Login, topics: dict[str, str]
) -> None:
    """Make each person the sole expert of their topic, and wait until notify knows it:
    public questions are asked until each of them has been asked for help."""
    await publish(bus, *[expertise(person, topic, 9) for person, topic in topics.items()])
    for person, topic in topics.items():
        headers = await login(person)

        async def ask(topic: str = topic, headers: dict[str, str] = headers) -> list[object]:
            await publish(bus, post(uid("asker"), kind="question", topics=[topic]))
            return await inbox(client, headers, type="question.expert_needed")

        await eventually(ask, within=60)


@pytest.mark.parametrize("name", list(CASES))
async def test_private_group_activity_is_notified_to_members_only(
    client: httpx.AsyncClient, login: Login, bus: EventBus, name: str
) -> None:
    case = CASES[name]
    owner, member, outsider = uid("own"), uid("mem"), uid("out")
    group = uid("g")
    topics = {member: uid("topic"), outsider: uid("topic")}
    await join(bus, client, login, group, owner, member)
    if case.type == "question.expert_needed":
        await experts_known(bus, client, login, topics)

    hidden, hidden_target = case.make(outsider, owner, group, topics[outsider])
    [hidden_event] = await publish(bus, hidden)
    # Behind the private event on its partition: once this shows, that one was handled.
    sentinel = uid("fan")
    await publish_behind(bus, hidden_event, follow(sentinel, outsider))
    shown, shown_target = case.make(member, owner, group, topics[member])
    await publish(bus, shown)

    member_headers = await login(member)

    def about(target: str, type_: str) -> Callable[[list[dict[str, object]]], bool]:
        return lambda groups: any(
            g["type"] == type_ and g["target"]["id"] == target  # type: ignore[index]
            for g in groups
        )

    await eventually(
        lambda: inbox(client, member_headers), until=about(shown_target, case.type), within=60
    )
    outsider_headers = await login(outsider)
    seen = await eventually(
        lambda: inbox(client, outsider_headers), until=about(outsider, "follower"), within=60
    )
    assert [g["actors"] for g in seen if g["type"] == "follower"] == [[sentinel]]
    assert not about(hidden_target, case.type)(seen)
    assert hidden_target not in {g["target"]["id"] for g in seen}

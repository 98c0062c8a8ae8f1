"""Each notification type from its triggering event; actor excluded; privacy; duplicates."""

from __future__ import annotations

import asyncio

import httpx

from shared.backends import make_bus
from shared.bus.port import EventBus
from shared.events import Event
from shared.events.schemas.notify import TOPIC as NOTIFY_TOPIC
from shared.settings import CanteenSettings
from tests.conftest import Login
from tests.notify.test_inbox_support import (
    accepted,
    answer,
    bus,
    comment,
    deleted,
    expertise,
    follow,
    inbox,
    join,
    membership,
    pinned,
    post,
    publish,
    reaction,
    uid,
    wait_inbox,
    wait_unread,
)
from tests.support import eventually

__all__ = ["bus"]


async def test_answer_comment_reply_reaction_follower_accepted(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    ana, bo, cy = uid("ana"), uid("bo"), uid("cy")
    question = post(ana, kind="question")
    ans = answer(question.id, ana, bo)
    parent = comment(question.id, ana, bo)
    reply = comment(question.id, ana, cy, parent_id=parent.id, parent_author_id=bo)
    await publish(
        bus,
        question,
        ans,
        accepted(question.id, ans.id, bo, ana),
        parent,
        reply,
        reaction("answer", ans.id, bo, cy, question.id),
        follow(cy, ana),
    )
    ana_h, bo_h = await login(ana), await login(bo)
    ana_groups = await wait_inbox(client, ana_h, 4)
    # bo's comment and cy's reply both comment on ana's post: one group of two
    assert sorted((g["type"], g["count"]) for g in ana_groups) == [
        ("answer.created", 1),
        ("comment.created", 2),
        ("follower", 1),
    ]
    bo_groups = await wait_inbox(client, bo_h, 3)
    assert sorted(g["type"] for g in bo_groups) == [
        "answer.accepted",
        "comment.replied",
        "reaction",
    ]
    reacted = next(g for g in bo_groups if g["type"] == "reaction")
    assert reacted["target"] == {"type": "answer", "id": ans.id}
    assert reacted["items"][0]["actor_id"] == cy
    assert reacted["summary"] == f"{cy} reacted to your answer"
    await wait_unread(client, ana_h, 4)
    await wait_unread(client, bo_h, 3)


async def test_mentions_in_posts_comments_answers_and_never_the_actor(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    ana, bo, cy = uid("ana"), uid("bo"), uid("cy")
    note = post(ana, mentions=[bo, ana])
    await publish(
        bus,
        note,
        comment(note.id, ana, cy, mentions=[bo]),
        answer(uid("q"), cy, ana, mentions=[bo]),
        # self-inflicted: comment on own post, reaction to own post, following oneself
        comment(note.id, ana, ana),
        reaction("post", note.id, ana, ana, note.id),
        follow(ana, ana),
    )
    groups = await wait_inbox(client, await login(bo), 3)
    assert {g["type"] for g in groups} == {"mention"}
    assert {g["target"]["type"] for g in groups} == {"post", "comment", "answer"}
    # ana never hears of her own actions; only cy's comment on her post reaches her
    ana_groups = await wait_inbox(client, await login(ana), 1)
    assert [g["type"] for g in ana_groups] == ["comment.created"]
    assert ana_groups[0]["items"][0]["actor_id"] == cy


async def test_group_invitation_join_request_approval(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    owner, admin, dee, eve = uid("own"), uid("adm"), uid("dee"), uid("eve")
    group = uid("g")
    await publish(
        bus,
        membership(group, dee, "invited", "invited", actor=owner),
        membership(group, eve, "requested", "requested", actor=eve, admins=[owner, admin, eve]),
        membership(group, eve, "approved", "active", actor=admin, role="member"),
    )
    assert [g["type"] for g in await wait_inbox(client, await login(dee))] == ["group.invited"]
    for who in (owner, admin):
        groups = await wait_inbox(client, await login(who))
        assert [g["type"] for g in groups] == ["group.join_requested"]
        assert groups[0]["items"][0]["actor_id"] == eve
    eve_groups = await wait_inbox(client, await login(eve))
    assert [g["type"] for g in eve_groups] == ["group.approved"]


async def test_new_question_asks_the_topics_top_experts(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    topic = uid("topic")
    experts = [uid("e1"), uid("e2"), uid("e3"), uid("e4")]
    hidden = uid("hid")
    await publish(
        bus, *[expertise(p, topic, s) for p, s in zip(experts, [9, 8, 7, 1], strict=True)]
    )
    await publish(bus, expertise(hidden, topic, 99).model_copy(update={"hidden": True}))
    asker = experts[1]
    # Each expert's event travels on its own partition, in no order: ask again until probes
    # reach all three top experts, i.e. every one of them is projected.
    top_headers = [await login(p) for p in experts[:3]]
    e3_headers = top_headers[2]
    probes: list[str] = []

    async def ask() -> list[list[dict[str, object]]]:
        probe = post(uid("x"), kind="question", topics=[topic])
        probes.append(probe.id)
        await publish(bus, probe)
        return [await inbox(client, h) for h in top_headers]

    await eventually(ask, until=lambda boxes: all(boxes), within=60)
    question = post(asker, kind="question", topics=[topic])
    await publish(bus, question)

    def has_question(groups: list[dict[str, object]]) -> bool:
        return any(g["target"] == {"type": "post", "id": question.id} for g in groups)

    e1_headers = await login(experts[0])
    e1 = await eventually(lambda: inbox(client, e1_headers), until=has_question)
    assert {g["type"] for g in e1} == {"question.expert_needed"}
    await eventually(lambda: inbox(client, e3_headers), until=has_question)
    # the asker (an expert) is the actor; the 4th expert is not in the top 3; hidden never
    asked = {g["target"]["id"] for g in await inbox(client, await login(asker))}
    assert question.id not in asked
    # (early probes may have reached the 4th expert before the others were projected)
    fourth = {g["target"]["id"] for g in await inbox(client, await login(experts[3]))}
    assert question.id not in fourth
    assert await inbox(client, await login(hidden)) == []


async def test_private_group_content_reaches_members_only_and_pin_is_critical(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    owner, member, outsider = uid("own"), uid("mem"), uid("out")
    group = uid("g")
    await join(bus, client, login, group, owner, member)
    secret = post(owner, mentions=[member, outsider], group=group, visibility="private")
    await publish(bus, secret, pinned(secret.id, owner, owner, group))
    groups = await wait_inbox(client, await login(member), 3)
    types = sorted(g["type"] for g in groups)
    assert types == ["announcement", "group.approved", "mention"]
    ann = next(g for g in groups if g["type"] == "announcement")
    assert ann["critical"] is True and ann["items"][0]["critical"] is True
    # a sentinel after the private events: once it arrived, the private ones were handled
    await publish(bus, follow(owner, outsider))
    out = await wait_inbox(client, await login(outsider))
    assert [g["type"] for g in out] == ["follower"]
    # the pinner is the actor: no announcement for the owner
    own = await inbox(client, await login(owner))
    assert [g["type"] for g in own] == ["group.approved"]


async def test_a_mention_the_writer_verified_reaches_a_member_we_have_not_seen_join(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    """The journeys' race: Milo accepts an invitation and is mentioned at once; the post
    can reach us before his membership (another partition). Activity checked membership
    when it wrote the post (`member_mentions`), which decides; the outsider it left out
    still hears nothing."""
    owner, milo, outsider = uid("own"), uid("milo"), uid("out")
    group = uid("g")
    await join(bus, client, login, group, owner)  # Milo's own membership never arrives
    secret = post(owner, mentions=[milo, outsider], group=group, visibility="private")
    secret = secret.model_copy(update={"member_mentions": [milo]})
    private = {"group": group, "visibility": "private", "mentions": [milo, outsider]}
    await publish(
        bus,
        secret,
        answer(secret.id, owner, owner, member_mentions=[milo], **private),
        comment(secret.id, owner, owner, member_mentions=[milo], **private),
    )
    groups = await wait_inbox(client, await login(milo), 3)
    assert {g["type"] for g in groups} == {"mention"}  # post, answer and comment
    assert sum(g["count"] for g in groups) == 3
    await publish(bus, follow(owner, outsider))  # a sentinel after the private post
    out = await wait_inbox(client, await login(outsider))
    assert [g["type"] for g in out] == ["follower"]


async def test_redelivered_event_gives_one_notification(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    ana, bo = uid("ana"), uid("bo")
    (event,) = await publish(bus, follow(bo, ana))
    for _ in range(3):
        await bus.publish(event, topic="canteen.activity")
    await publish(bus, comment(uid("p"), ana, bo))  # sentinel after the duplicates
    headers = await login(ana)
    groups = await wait_inbox(client, headers, 2)
    assert sum(g["count"] for g in groups) == 2
    await wait_unread(client, headers, 2)


async def test_deleted_post_hides_its_notifications_and_stops_new_ones(
    client: httpx.AsyncClient, login: Login, bus: EventBus
) -> None:
    ana, bo = uid("ana"), uid("bo")
    note = post(ana)
    await publish(bus, comment(note.id, ana, bo), follow(bo, ana))
    headers = await login(ana)
    await wait_inbox(client, headers, 2)
    await wait_unread(client, headers, 2)
    await publish(bus, deleted(note.id, ana), comment(note.id, ana, bo))

    async def only_follower() -> list[str]:
        return [g["type"] for g in await inbox(client, headers)]

    await eventually(only_follower, until=lambda t: t == ["follower"], within=60)
    # The late comment is dropped (delete seen first) or hidden (delete seen after): either
    # way it never shows. A second follower aggregates with the first.
    zed = uid("z")
    await publish(bus, follow(zed, ana))
    groups = await wait_inbox(client, headers, 2)
    assert [(g["type"], g["count"], sorted(g["actors"])) for g in groups] == [
        ("follower", 2, sorted([bo, zed]))
    ]
    await wait_unread(client, headers, 2)


async def test_notification_created_is_published_without_private_content(
    client: httpx.AsyncClient, login: Login, bus: EventBus, settings: CanteenSettings
) -> None:
    received: list[Event] = []

    async def collect(event: Event) -> None:
        received.append(event)

    observer = make_bus(settings, "test-observer", topics=[NOTIFY_TOPIC])
    await observer.start()
    consumer = observer.consumer(group=uid("observer"), topics=[NOTIFY_TOPIC], handler=collect)
    task = asyncio.create_task(consumer.run())
    try:
        ana, bo = uid("ana"), uid("bo")
        await publish(bus, comment(uid("p"), ana, bo))
        await wait_inbox(client, await login(ana))

        async def ours() -> list[Event]:
            return [e for e in received if e.data["recipient_id"] == ana]

        (event,) = await eventually(ours, within=60)
    finally:
        await consumer.stop()
        await task
        await observer.close()
    assert event.type == "canteen.notify.notification.created.v1"
    assert event.subject == ana
    assert event.data["type"] == "comment.created" and event.data["seq"] == 1
    assert not {"title", "summary", "text"} & set(event.data)

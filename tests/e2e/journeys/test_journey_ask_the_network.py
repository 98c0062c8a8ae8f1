"""Journey 1, ask the network.

1. Ben becomes a Kubernetes expert through real activity: he answers three #kubernetes
   questions and each asker accepts his answer. Dan answers one without acceptance (a
   lesser expert, so "first" means something). Fay follows #kubernetes.
2. Ben keeps his notification stream (SSE) open.
3. Ana asks a #kubernetes question: Ben's stream gets "Someone may need your help".
4. Ben answers: Ana is notified of the answer, and accepts it.
5. Ben's kubernetes expertise rises, with the accepted answer as evidence.
6. Searching the question's words finds it, with Ben's accepted answer highlighted;
   expert search ranks Ben first for kubernetes.
7. Next morning in Fay's time zone, her daily digest lists the question.

About step 7: the digest scheduler ticks every 30 s inside notify and sends at the
configured local hour (CANTEEN_DIGEST_LOCAL_HOUR, default 8) in each person's time zone.
There is no public trigger: `DigestScheduler.tick(now)` is an internal hook (used by
tests/notify). So the journey uses only public means: Fay asks for a daily digest in a time
zone where it is morning now, and the running scheduler sends it on its next tick.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.e2e.journeys.conftest import Api, SseReader, Stack
from tests.support import eventually

TOPIC = "kubernetes"


def morning_zone(now: datetime) -> str:
    """An IANA zone where the local time now is between 08:00 and 12:00."""
    for offset in range(-12, 15):
        if 8 <= (now.hour + offset) % 24 < 12:
            return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc signs are inverted
    raise AssertionError("unreachable: 27 offsets cover every hour")


async def ask(api: Api, who: str, title: str, body: str) -> dict[str, Any]:
    question = {"kind": "question", "title": title, "body_md": body, "tags": [TOPIC]}
    post: dict[str, Any] = await api.ok("POST", "/api/v1/posts", as_=who, json=question)
    return post


async def answer(api: Api, who: str, question_id: str, text: str) -> dict[str, Any]:
    path = f"/api/v1/questions/{question_id}/answers"
    created: dict[str, Any] = await api.ok("POST", path, as_=who, json={"text": text})
    return created


async def accept(api: Api, asker: str, question_id: str, answer_id: str) -> None:
    path = f"/api/v1/questions/{question_id}/accepted-answer"
    await api.ok("PUT", path, as_=asker, json={"answer_id": answer_id})


async def kubernetes_score(api: Api, person: str) -> tuple[float, list[str]]:
    body = await api.ok("GET", f"/api/v1/people/{person}/expertise", as_=person)
    for topic in body["topics"]:
        if topic["topic"] == TOPIC:
            return topic["score"], [e["ref_id"] for e in topic["evidence"]]
    return 0.0, []


async def test_ask_the_network(api: Api, stack: Stack, sse: SseReader) -> None:
    await api.join("ana", "ben", "dan", "eve", "gil", "fay")
    await api.ok("PUT", f"/api/v1/follows/topics/{TOPIC}", as_="fay")

    # 1. Ben's record: three accepted answers; Dan: one plain answer.
    priming = [
        ("eve", "Pod stuck in CrashLoopBackOff", "My pod restarts forever."),
        ("gil", "Ingress returns 502", "The ingress controller answers 502 for one service."),
        ("eve", "HPA does not scale", "The horizontal pod autoscaler stays at one replica."),
    ]
    for asker, title, body in priming:
        q = await ask(api, asker, title, body)
        a = await answer(api, "ben", q["id"], f"Ben's fix for: {title}. Check the events.")
        await accept(api, asker, q["id"], a["id"])
    q = await ask(api, "gil", "Which CNI plugin?", "Calico or Cilium?")
    await answer(api, "dan", q["id"], "I used Calico once.")

    async def experts() -> list[str]:
        body = await api.ok("GET", f"/api/v1/experts?topic={TOPIC}", as_="ana")
        return [e["person_id"] for e in body]

    await eventually(experts, until=lambda ids: ids[:2] == ["ben", "dan"], within=60)

    async def searchable_experts() -> list[str]:
        body = await api.ok("GET", f"/api/v1/search/experts?topic={TOPIC}", as_="ana")
        return [e["id"] for e in body["items"]]

    # The notify service learns the top experts from the same expertise events; waiting
    # until a second consumer (search) has them too leaves it the same time to catch up.
    await eventually(searchable_experts, until=lambda ids: ids[:1] == ["ben"], within=60)
    score_before, _ = await kubernetes_score(api, "ben")
    assert score_before > 0

    # 2-3. Ana asks; Ben hears about it live.
    await sse.open(api, "ben")
    question = await ask(
        api,
        "ana",
        "How do I rotate kubelet certificates without downtime?",
        "Our kubelet client certificates expire next week. Rotation steps?",
    )

    def help_wanted(events: list[dict[str, Any]]) -> bool:
        return any(
            e["type"] == "question.expert_needed" and e["target"]["id"] == question["id"]
            for e in events
        )

    await eventually(lambda: _value(sse.events), until=help_wanted, within=60)
    # Only this question's: a priming question may also have reached Ben once he ranked.
    [needed] = [
        e
        for e in sse.events
        if e["type"] == "question.expert_needed" and e["target"]["id"] == question["id"]
    ]
    assert needed["title"] == "Someone may need your help" and needed["actor_id"] == "ana"

    # 4. Ben answers; Ana is notified and accepts.
    ben_answer = await answer(
        api,
        "ben",
        question["id"],
        "Enable rotateCertificates in the kubelet config: kubelet certificates then renew "
        "themselves before they expire, with no downtime.",
    )

    async def ana_notifications() -> list[dict[str, Any]]:
        body = await api.ok("GET", "/api/v1/notifications", as_="ana")
        return [i for g in body["items"] for i in g["items"]]

    notes = await eventually(
        ana_notifications,
        until=lambda items: any(
            i["type"] == "answer.created" and i["target"]["id"] == question["id"] for i in items
        ),
        within=60,
    )
    assert all(n["actor_id"] == "ben" for n in notes if n["type"] == "answer.created")
    await accept(api, "ana", question["id"], ben_answer["id"])

    # 5. Ben's expertise rises, with this answer as evidence.
    async def ben_expertise() -> tuple[float, list[str]]:
        return await kubernetes_score(api, "ben")

    score_after, _evidence = await eventually(
        ben_expertise, until=lambda s: ben_answer["id"] in s[1] and s[0] > score_before, within=60
    )
    assert score_after > score_before

    # 6. Search finds the question with Ben's accepted answer highlighted; Ben leads experts.
    async def found() -> list[dict[str, Any]]:
        body = await api.ok(
            "GET", "/api/v1/search", as_="fay", params={"q": "rotate kubelet certificates"}
        )
        return [h for h in body["items"] if h["id"] == question["id"]]

    [hit] = await eventually(
        found, until=lambda hits: bool(hits and hits[0].get("state") == "answered"), within=60
    )
    accepted_highlight = " ".join(hit["highlights"].get("accepted_answer", []))
    assert "rotateCertificates" in accepted_highlight or "kubelet" in accepted_highlight.lower()
    assert "<" in accepted_highlight, f"no highlight markup: {hit['highlights']}"
    ranked = await eventually(searchable_experts, until=lambda ids: ids[:1] == ["ben"], within=60)
    assert ranked[0] == "ben" and "dan" in ranked

    # 7. Next morning (in Fay's time zone) her digest lists the question.
    zone = morning_zone(datetime.now(UTC))
    prefs = {"digest": "daily", "time_zone": zone, "email_address": "fay@example.org"}
    await api.ok("PUT", "/api/v1/notification-preferences", as_="fay", json=prefs)

    async def fays_digest() -> list[Any]:
        return [
            m
            for m in list(stack.mail.messages)
            if m["To"] == "fay@example.org" and "digest" in str(m["Subject"]).lower()
        ]

    [digest] = await eventually(fays_digest, within=90)
    plain = digest.get_body(preferencelist=("plain",))
    assert plain is not None
    assert "How do I rotate kubelet certificates without downtime?" in plain.get_content()


async def _value(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(events)

"""Journey 3, a private community.

1. Kim creates the private group "Finance close" and invites Lea, who accepts. Kim also
   invites Ned, who never answers (invited is not a member).
2. Max, outside the group, follows #quarterclose, Kim and Lea, and wants email for
   everything. Everyone has an email address.
3. Lea asks a #quarterclose question in the group ("zephyrine reconciliation"),
   mentioning @kim and @max. Kim answers, mentioning @max again; Kim reacts to the
   question; Lea accepts Kim's answer.
4. Members get it all: the question in Lea's home feed, the mention, answer and reaction
   notifications, search hits. (Kim's expertise counts it, but shows the answer only to
   members, and lists a topic only private groups support only to them: see the second test.)
5. Max and Ned see none of it: not in any feed, search hit, facet count, suggestion or
   expert evidence, and get no notification or email about it (Max's mention included).
   Email that members get about it carries no private words.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.journeys.conftest import Api, Stack
from tests.support import eventually

TOPIC = "quarterclose"
WORD = "zephyrine"
OUTSIDERS = ("max", "ned")


async def notifications(api: Api, who: str) -> list[dict[str, Any]]:
    body = await api.ok("GET", "/api/v1/notifications", as_=who)
    return [item for group in body["items"] for item in group["items"]]


async def test_private_community(api: Api, stack: Stack) -> None:
    await api.join("kim", "lea", "max", "ned")
    for who in ("kim", "lea", "max", "ned"):
        prefs: dict[str, Any] = {"email_address": f"{who}@example.org"}
        if who == "max":
            prefs["channels"] = {
                kind: {"email": True}
                for kind in ("mention", "answer.created", "reaction", "question.expert_needed")
            }
        await api.ok("PUT", "/api/v1/notification-preferences", as_=who, json=prefs)

    group = await api.ok(
        "POST",
        "/api/v1/groups",
        as_="kim",
        json={
            "name": "Finance close",
            "slug": "finance-close",
            "description": f"Month-end {WORD} work",
            "visibility": "private",
            "join_policy": "invite",
        },
    )
    invitations = f"/api/v1/groups/{group['id']}/invitations"
    await api.ok("POST", invitations, as_="kim", json={"user_id": "lea"})
    await api.ok("POST", f"{invitations}/accept", as_="lea")
    await api.ok("POST", invitations, as_="kim", json={"user_id": "ned"})

    # Membership events are keyed by group: once Ned hears of his invitation, every service
    # has applied Lea's joining too.
    async def ned_invited() -> list[str]:
        return [n["target"]["id"] for n in await notifications(api, "ned")]

    await eventually(ned_invited, until=lambda ids: group["id"] in ids, within=60)

    await api.ok("PUT", f"/api/v1/follows/topics/{TOPIC}", as_="max")
    await api.ok("PUT", "/api/v1/follows/people/kim", as_="max")
    await api.ok("PUT", "/api/v1/follows/people/lea", as_="max")

    # 3. The private conversation. (Mentions resolve once activity's directory knows them.)
    async def ask() -> dict[str, Any]:
        post: dict[str, Any] = await api.ok(
            "POST",
            "/api/v1/posts",
            as_="lea",
            json={
                "kind": "question",
                "title": f"How do we book the {WORD} reconciliation?",
                "body_md": f"@kim @max the {WORD} entries do not balance this month.",
                "tags": [TOPIC],
                "group_id": group["id"],
            },
        )
        return post

    question = await eventually(ask, until=lambda p: {"kim", "max"} <= set(p["mentions"]))
    qid = question["id"]
    answer = await api.ok(
        "POST",
        f"/api/v1/questions/{qid}/answers",
        as_="kim",
        json={"text": f"@max knows: post the {WORD} difference to the suspense account first."},
    )
    await api.ok("PUT", f"/api/v1/posts/{qid}/reactions", as_="kim", json={"kind": "thanks"})
    await api.ok(
        "PUT",
        f"/api/v1/questions/{qid}/accepted-answer",
        as_="lea",
        json={"answer_id": answer["id"]},
    )
    private_ids = {qid, answer["id"], group["id"]}

    # 4. Members get everything.
    async def lea_home() -> list[str]:
        return [i["id"] for i in (await api.ok("GET", "/api/v1/feeds/home", as_="lea"))["items"]]

    await eventually(lea_home, until=lambda ids: qid in ids, within=60)

    def has(kinds: set[str]) -> Any:
        return lambda items: kinds <= {n["type"] for n in items}

    await eventually(lambda: notifications(api, "kim"), until=has({"mention"}), within=60)
    lea_notes = await eventually(
        lambda: notifications(api, "lea"),
        until=has({"answer.created", "reaction"}),
        within=60,
    )
    about_it = [n for n in lea_notes if n["target"]["id"] == qid]
    assert about_it and all(n["private"] for n in about_it), lea_notes

    async def member_search() -> dict[str, Any]:
        body: dict[str, Any] = await api.ok("GET", "/api/v1/search", as_="kim", params={"q": WORD})
        return body

    found = await eventually(
        member_search,
        until=lambda b: any(h["id"] == qid and h.get("state") == "answered" for h in b["items"]),
        within=60,
    )
    assert any(f["value"] == TOPIC for f in found["facets"]["topic"]), found["facets"]

    async def kims_evidence(as_: str) -> list[str]:
        body = await api.ok("GET", "/api/v1/people/kim/expertise", as_=as_)
        return [e["ref_id"] for t in body["topics"] for e in t["evidence"]]

    # A public barrier: Kim mentions Max in the open. When Max has that, notify has
    # handled the private events before it on every partition the journey waited for.
    note = await api.ok(
        "POST", "/api/v1/posts", as_="kim", json={"body_md": "@max the close calendar is out"}
    )
    await eventually(
        lambda: notifications(api, "max"),
        until=lambda items: any(n["target"]["id"] == note["id"] for n in items),
        within=60,
    )

    # 5. Outsiders see nothing of it, anywhere.
    for outsider in OUTSIDERS:
        for path in (f"/api/v1/posts/{qid}", f"/api/v1/questions/{qid}/answers"):
            response = await api.get(path, as_=outsider)
            assert response.status_code == 404, (outsider, path, response.text)
        for feed in (
            "/api/v1/feeds/home",
            f"/api/v1/feeds/topics/{TOPIC}",
            "/api/v1/feeds/people/lea",
            "/api/v1/feeds/people/kim",
            "/api/v1/feeds/questions-for-me",
            "/api/v1/questions",
            "/api/v1/posts",
        ):
            body = await api.ok("GET", feed, as_=outsider)
            assert not private_ids & {i["id"] for i in body["items"]}, (outsider, feed, body)
        groups = await api.ok("GET", "/api/v1/groups", as_=outsider)
        assert group["id"] not in {g["id"] for g in groups["items"]}

        for params in (
            {"q": WORD},
            {"q": "Finance close"},
            {"q": "", "topic": TOPIC},
            {"q": "suspense account"},
            {"q": "", "type": "group"},
        ):
            body = await api.ok("GET", "/api/v1/search", as_=outsider, params=params)
            assert not private_ids & {h["id"] for h in body["items"]}, (outsider, params, body)
            assert WORD not in str(body).lower(), (outsider, params, body)
            assert group["id"] not in str(body["facets"]), (outsider, params, body["facets"])
        # Post facets never count the private question. (People facets do show its topic:
        # see test_private_topic_stays_out_of_expert_listings, xfail.)
        for params in ({"q": "", "type": "post"}, {"q": "", "type": "question"}):
            body = await api.ok("GET", "/api/v1/search", as_=outsider, params=params)
            facet_topics = {f["value"] for f in body["facets"]["topic"]}
            assert TOPIC not in facet_topics, (outsider, params, body["facets"])
        for prefix in ("zeph", "quarterc", "Finance"):
            body = await api.ok("GET", "/api/v1/suggest", as_=outsider, params={"q": prefix})
            assert WORD not in str(body).lower() and TOPIC not in str(body), (prefix, body)
            assert group["id"] not in str(body) and "Finance close" not in str(body), body

        evidence = await kims_evidence(outsider)
        assert not private_ids & set(evidence), (outsider, evidence)
        experts = await api.ok("GET", f"/api/v1/experts?topic={TOPIC}", as_=outsider)
        shown = {e["ref_id"] for x in experts for e in x["evidence"]}
        assert not private_ids & shown, (outsider, experts)

        for item in await notifications(api, outsider):
            assert item["target"]["id"] not in {qid, answer["id"]}, (outsider, item)
            assert WORD not in str(item).lower(), (outsider, item)

    # Email: none to outsiders about it; what members get carries no private words.
    for message in list(stack.mail.messages):
        text = message.as_string().lower()
        assert WORD not in text, message["Subject"]
        if message["To"] in ("max@example.org", "ned@example.org"):
            assert qid not in text and answer["id"] not in text, message["Subject"]


LEAK_TOPIC = "ledgerops"


async def test_private_topic_stays_out_of_expert_listings(api: Api) -> None:
    """Oli answers Pia's #ledgerops question in their private group and Pia accepts it.
    Quinn, outside the group, must not learn that #ledgerops exists or who knows it."""
    await api.join("oli", "pia", "quinn")
    group = await api.ok(
        "POST",
        "/api/v1/groups",
        as_="oli",
        json={
            "name": "Ledger ops",
            "slug": "ledger-ops",
            "visibility": "private",
            "join_policy": "invite",
        },
    )
    invitations = f"/api/v1/groups/{group['id']}/invitations"
    await api.ok("POST", invitations, as_="oli", json={"user_id": "pia"})
    await api.ok("POST", f"{invitations}/accept", as_="pia")

    async def ask() -> dict[str, Any]:
        response = await api.post(
            "/api/v1/posts",
            as_="pia",
            json={
                "kind": "question",
                "title": "Which ledger closes first?",
                "body_md": "?",
                "tags": [LEAK_TOPIC],
                "group_id": group["id"],
            },
        )
        return {"status": response.status_code, **response.json()}

    question = await eventually(ask, until=lambda r: r["status"] == 201, within=60)
    answer = await api.ok(
        "POST",
        f"/api/v1/questions/{question['id']}/answers",
        as_="oli",
        json={"text": "The sub-ledgers, then the general ledger."},
    )
    await api.ok(
        "PUT",
        f"/api/v1/questions/{question['id']}/accepted-answer",
        as_="pia",
        json={"answer_id": answer["id"]},
    )

    # A public barrier: after the private acceptance, Oli shares a public resource in
    # #ledgerpublic; once search ranks him for it, profiles and search have handled the
    # events before it (on its partition; the private ones had seconds more on theirs).
    await api.ok(
        "POST",
        "/api/v1/posts",
        as_="oli",
        json={
            "kind": "resource",
            "title": "Close checklist",
            "url": "https://example.org/close",
            "tags": ["ledgerpublic"],
        },
    )

    async def public_expert() -> list[str]:
        body = await api.ok("GET", "/api/v1/search/experts?topic=ledgerpublic", as_="quinn")
        return [e["id"] for e in body["items"]]

    await eventually(public_expert, until=lambda ids: "oli" in ids, within=60)
    # It counts for Oli, and he, a member, sees it (so profiles has handled the acceptance).
    await eventually(
        lambda: api.ok("GET", "/api/v1/people/oli/expertise", as_="oli"),
        until=lambda mine: LEAK_TOPIC in {t["topic"] for t in mine["topics"]},
        within=60,
    )

    # Once observed (both backends, before the fix): each of these showed #ledgerops.
    everything = await api.ok("GET", "/api/v1/search", as_="quinn", params={"q": ""})
    assert LEAK_TOPIC not in {f["value"] for f in everything["facets"]["topic"]}, everything
    people = await api.ok(
        "GET", "/api/v1/search", as_="quinn", params={"type": "person", "topic": LEAK_TOPIC}
    )
    assert people["items"] == [], people
    ranked = await api.ok("GET", f"/api/v1/search/experts?topic={LEAK_TOPIC}", as_="quinn")
    assert ranked["items"] == [], ranked
    listed = await api.ok("GET", f"/api/v1/experts?topic={LEAK_TOPIC}", as_="quinn")
    assert listed == [], listed
    oli = await api.ok("GET", "/api/v1/people/oli/expertise", as_="quinn")
    assert LEAK_TOPIC not in {t["topic"] for t in oli["topics"]}, oli

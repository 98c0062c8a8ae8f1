"""Publishing posts: the four kinds, Markdown rendering, topics, mentions, groups, bad input."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest

from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_posts_support import (
    PROBLEM,
    Observer,
    activity_store,
    add_group,
    person,
    publish,
)
from tests.support import eventually

POSTS = "/api/v1/posts"


def tags_of(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of `html` with its attributes, as a browser's tokenizer sees them."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collector().feed(html)
    return found


async def test_a_note_is_rendered_sanitized_and_served(
    client: httpx.AsyncClient, login: Login
) -> None:
    ana = await login("ana")
    body = (
        "Rotating **#Kubernetes** secrets: see [the guide](https://wiki.example/k8s)\n\n"
        "<script>alert('x')</script> [bad](javascript:alert(1)) <img src=x onerror=alert(1)>"
    )
    created = await client.post(POSTS, json={"body_md": body, "tags": ["Sécurité"]}, headers=ana)
    assert created.status_code == 201, created.text
    post = created.json()
    assert created.headers["location"].endswith(f"/api/v1/posts/{post['id']}")
    assert post["kind"] == "note" and post["author_id"] == "ana"
    assert post["audience"] == "org" and post["group_id"] is None
    assert post["topics"] == ["securite", "kubernetes"]
    assert post["revision"] == 0 and post["pinned"] is False and post["edited_at"] is None
    html = post["body_html"]
    assert '<a href="https://wiki.example/k8s" rel="nofollow noopener">the guide</a>' in html
    assert "<strong>#Kubernetes</strong>" in html
    tags = tags_of(html)
    assert {t for t, _ in tags} <= {"p", "a", "strong"}
    for tag, attrs in tags:
        assert all(not name.startswith("on") and name != "style" for name, _ in attrs)
        if tag == "a":
            assert dict(attrs)["rel"] == "nofollow noopener"
            assert dict(attrs)["href"].startswith(("https:", "http:", "mailto:"))
    assert "&lt;script&gt;" in html  # raw HTML is shown as text, never run
    assert post["text"].startswith("Rotating #Kubernetes secrets: see the guide")
    assert post["author"] == {
        "id": "ana",
        "handle": None,
        "display_name": "ana",
        "avatar_url": None,
    }
    fetched = await client.get(f"{POSTS}/{post['id']}", headers=ana)
    assert fetched.status_code == 200
    assert fetched.json() == post


@pytest.mark.parametrize(
    ("payload", "extra"),
    [
        ({"kind": "question", "title": "How do I rotate secrets?", "body_md": "In prod?"},
         {"state": "open", "accepted_answer_id": None}),
        ({"kind": "article", "title": "Our stack", "body_md": "# Intro\n\n" + "x" * 50_000}, {}),
        ({"kind": "resource", "title": "K8s docs", "url": "https://kubernetes.io/docs/",
          "resource_type": "how-to", "body_md": "The official docs", "tags": ["k8s"]},
         {"url": "https://kubernetes.io/docs/", "resource_type": "how-to", "topics": ["k8s"]}),
        ({"kind": "resource", "url": "http://intranet.example:8080/a?b=c#d"}, {"body_md": ""}),
    ],
)  # fmt: skip
async def test_each_kind_is_stored_with_its_fields(
    client: httpx.AsyncClient, login: Login, payload: dict[str, object], extra: dict[str, object]
) -> None:
    created = await client.post(POSTS, json=payload, headers=await login("bo"))
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["kind"] == payload["kind"]
    assert post["title"] == payload.get("title")
    for key, value in extra.items():
        assert post[key] == value, key


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"body_md": "   "},
        {"body_md": 42},
        {"body_md": "x", "kind": "poem"},
        {"body_md": "x", "text": "old field"},
        {"kind": "question", "body_md": "no title"},
        {"kind": "article", "title": "   ", "body_md": "x"},
        {"kind": "note", "body_md": "x" * 10_001},
        {"kind": "article", "title": "t", "body_md": "x" * 100_001},
        {"body_md": "x", "title": "t" * 201},
        {"body_md": "x", "tags": ["t"] * 21},
        {"body_md": "x", "tags": ["t" * 65]},
        {"body_md": "x", "tags": [""]},
        {"body_md": "x", "url": "https://a.example"},
        {"body_md": "x", "resource_type": "video"},
        {"kind": "resource", "title": "no url"},
        {"kind": "resource", "url": "javascript:alert(1)"},
        {"kind": "resource", "url": "ftp://files.example/a"},
        {"kind": "resource", "url": "/relative/path"},
        {"kind": "resource", "url": "https://"},
        {"kind": "resource", "url": "https://a.example/\nx"},
        {"kind": "resource", "url": "https://a.example:99999/"},
        {"kind": "resource", "url": "https://a.example/" + "x" * 2048},
        {"kind": "resource", "url": "https://a.example", "resource_type": "podcast"},
        {"body_md": "x", "group_id": ""},
    ],
)
async def test_bad_input_is_a_422_problem_and_writes_nothing(
    client: httpx.AsyncClient, login: Login, payload: dict[str, object]
) -> None:
    auth = await login("cy")
    response = await client.post(POSTS, json=payload, headers=auth)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.get(POSTS, headers=auth)).json()["items"] == []


async def test_mentions_resolve_known_handles_and_leave_others_as_text(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    await publish(
        settings,
        person("u-ana", "ana", "Ana Alves", avatar_url="https://img.example/ana.png"),
        person("u-bo", "Bo.Berg", "Bo Berg"),
    )
    auth = await login("u-cy")

    async def resolved() -> list[str]:
        response = await client.post(POSTS, json={"body_md": "@ana @bo.berg"}, headers=auth)
        return response.json()["mentions"]

    await eventually(resolved, until=lambda m: m == ["u-ana", "u-bo"], within=60)
    async with Observer(settings) as observer:
        created = await client.post(
            POSTS,
            json={"body_md": "Thanks @Ana, @nobody and mail@ana.example; `@bo.berg` too."},
            headers=auth,
        )
        post = created.json()
        assert post["mentions"] == ["u-ana", "u-bo"]
        assert "@nobody" in post["text"] and "@nobody" in post["body_html"]
        [event] = await observer.events_of(post["id"], 1)
    assert event.type == "canteen.activity.post.created.v1"
    assert event.data["mentions"] == ["u-ana", "u-bo"]
    assert event.data["text"] == post["text"]
    assert event.data["audience"] == "org"
    author = (await client.get(f"{POSTS}/{post['id']}", headers=await login("u-ana"))).json()
    assert author["author"] == {
        "id": "u-cy", "handle": None, "display_name": "u-cy", "avatar_url": None
    }  # fmt: skip
    mine = await client.post(POSTS, json={"body_md": "hi"}, headers=await login("u-ana"))
    assert mine.json()["author"] == {
        "id": "u-ana",
        "handle": "ana",
        "display_name": "Ana Alves",
        "avatar_url": "https://img.example/ana.png",
    }


async def test_posting_in_a_group_needs_active_membership(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    async with activity_store(settings) as store:
        await add_group(store, "g-open", visibility="public", members={"ana": "member"})
        await add_group(store, "g-secret", visibility="private", members={"ana": "owner"})
    ana, bo = await login("ana"), await login("bo")
    async with Observer(settings) as observer:
        for group, visibility in (("g-open", "public"), ("g-secret", "private")):
            created = await client.post(
                POSTS, json={"body_md": "hello", "group_id": group}, headers=ana
            )
            assert created.status_code == 201, created.text
            post = created.json()
            assert (post["audience"], post["group_id"]) == ("group", group)
            assert post["group_visibility"] == visibility
            [event] = await observer.events_of(post["id"], 1)
            assert event.data["group_id"] == group
            assert event.data["group_visibility"] == visibility
    outsider_public = await client.post(
        POSTS, json={"body_md": "x", "group_id": "g-open"}, headers=bo
    )
    assert outsider_public.status_code == 403
    for group in ("g-secret", "g-unknown"):
        hidden = await client.post(POSTS, json={"body_md": "x", "group_id": group}, headers=bo)
        assert hidden.status_code == 404, hidden.text
        assert hidden.headers["content-type"].startswith(PROBLEM)
    listed = (await client.get(POSTS, headers=bo)).json()["items"]
    assert [p["group_id"] for p in listed] == ["g-open"]


async def test_idempotency_key_on_a_real_post(client: httpx.AsyncClient, login: Login) -> None:
    ana, bo = await login("ana"), await login("bo")
    key = {"Idempotency-Key": "create-post-7f3a"}
    first = await client.post(POSTS, json={"body_md": "once"}, headers={**ana, **key})
    again = await client.post(POSTS, json={"body_md": "once"}, headers={**ana, **key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(POSTS, json={"body_md": "twice?"}, headers={**ana, **key})
    assert other.status_code == 422
    assert other.headers["content-type"].startswith(PROBLEM)
    theirs = await client.post(POSTS, json={"body_md": "once"}, headers={**bo, **key})
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    items = (await client.get(POSTS, headers=ana)).json()["items"]
    assert sorted(p["author_id"] for p in items) == ["ana", "bo"]


async def test_a_private_post_says_which_mentioned_people_are_members(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    """`member_mentions`: activity checked membership as it wrote, so notify need not wait
    for memberships that travel on other partitions."""
    await publish(settings, person("u-ana", "ana", "Ana Alves"), person("u-bo", "bo", "Bo Berg"))
    cy, ana = await login("u-cy"), await login("u-ana")
    group = (
        await client.post(
            "/api/v1/groups",
            json={
                "name": "Board",
                "slug": "board-mm",
                "visibility": "private",
                "join_policy": "invite",
            },
            headers=cy,
        )
    ).json()
    invited = await client.post(
        f"/api/v1/groups/{group['id']}/invitations", json={"user_id": "u-ana"}, headers=cy
    )
    assert invited.status_code in (200, 201), invited.text
    accepted = await client.post(f"/api/v1/groups/{group['id']}/invitations/accept", headers=ana)
    assert accepted.status_code == 200, accepted.text

    async def resolved() -> list[str]:
        response = await client.post(POSTS, json={"body_md": "@ana @bo"}, headers=cy)
        return response.json()["mentions"]

    await eventually(resolved, until=lambda m: m == ["u-ana", "u-bo"], within=60)
    async with Observer(settings) as observer:
        inside = await client.post(
            POSTS, json={"body_md": "@ana @bo", "group_id": group["id"]}, headers=cy
        )
        outside = await client.post(POSTS, json={"body_md": "@ana @bo"}, headers=cy)
        [private_event] = await observer.events_of(inside.json()["id"], 1)
        [org_event] = await observer.events_of(outside.json()["id"], 1)
    assert private_event.data["mentions"] == ["u-ana", "u-bo"]
    assert private_event.data["member_mentions"] == ["u-ana"]
    assert org_event.data["member_mentions"] is None

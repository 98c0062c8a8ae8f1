"""Posts as Activity Streams 2.0 objects, checked by expanding them with a real JSON-LD
processor (PyLD) against the AS2 context shipped in the repo (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyld import jsonld

import services.activity.posts as posts_package
from shared.settings import CanteenSettings
from tests.activity.conftest import Login
from tests.activity.test_posts_support import activity_store, add_group, person, publish
from tests.support import eventually

POSTS = "/api/v1/posts"
AS = "https://www.w3.org/ns/activitystreams#"
CONTEXT_FILE = Path(posts_package.__file__).parent / "as2" / "activitystreams.jsonld"
CONTEXT_URLS = ("https://www.w3.org/ns/activitystreams", "http://www.w3.org/ns/activitystreams")


def offline_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    if url.rstrip("/#") not in CONTEXT_URLS:
        raise jsonld.JsonLdError(f"no network in tests: {url}", "loading document failed")
    document = json.loads(CONTEXT_FILE.read_text())
    return {"contextUrl": None, "documentUrl": url, "document": document}


def expand(obj: dict[str, Any]) -> dict[str, Any]:
    [node] = jsonld.expand(obj, {"documentLoader": offline_loader})
    return node


def all_keys(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(all_keys(n) for n in node)) if node else set()
    if isinstance(node, dict):
        return set(node) | all_keys(list(node.values()))
    return set()


def test_the_context_file_is_the_as2_context() -> None:
    context = json.loads(CONTEXT_FILE.read_text())["@context"]
    assert context["as"] == AS
    for term in ("Note", "Question", "Article", "Page", "Link", "Mention", "attributedTo"):
        assert term in context


@pytest.mark.parametrize(
    ("payload", "as2_type"),
    [
        ({"kind": "note", "body_md": "Hi @ana, about #Kubernetes"}, "Note"),
        ({"kind": "question", "title": "How?", "body_md": "Ask @ana #k8s"}, "Question"),
        ({"kind": "article", "title": "Essay", "body_md": "Long text #k8s"}, "Article"),
        ({"kind": "resource", "title": "Docs", "url": "https://kubernetes.io/",
          "resource_type": "how-to", "body_md": "Official docs #k8s"}, "Page"),
    ],
)  # fmt: skip
async def test_each_kind_expands_to_as2_terms(
    client: httpx.AsyncClient,
    login: Login,
    settings: CanteenSettings,
    payload: dict[str, Any],
    as2_type: str,
) -> None:
    await publish(settings, person("ana", "ana", "Ana Alves"))
    auth = await login("bo")

    async def mentions() -> list[str]:
        probe = await client.post(POSTS, json={"body_md": "@ana"}, headers=auth)
        return probe.json()["mentions"]

    await eventually(mentions, until=lambda m: m == ["ana"], within=60)
    post = (await client.post(POSTS, json=payload, headers=auth)).json()
    await client.patch(f"{POSTS}/{post['id']}", json={"tags": ["edited"]}, headers=auth)
    response = await client.get(
        f"{POSTS}/{post['id']}", headers={**auth, "Accept": "application/activity+json"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/activity+json")
    assert "Accept" in response.headers["vary"]
    obj = response.json()
    assert obj["@context"][0] == "https://www.w3.org/ns/activitystreams"
    assert obj["type"] == as2_type
    assert obj["id"] == f"http://canteen/api/v1/posts/{post['id']}"
    assert "inReplyTo" not in obj
    node = expand(obj)
    assert node["@id"] == obj["id"]
    assert node["@type"] == [AS + as2_type]
    for term in ("attributedTo", "published", "updated", "content", "tag", "audience", "source"):
        assert AS + term in node, term
    assert node[AS + "content"][0]["@value"] == post["body_html"]
    assert not [k for k in all_keys(node) if k.startswith("_:")], "a term did not resolve"
    assert {k for k in all_keys(node) if not k.startswith("@")} <= {
        AS + t for t in ("attributedTo", "published", "updated", "content", "mediaType",
                         "source", "tag", "audience", "name", "preferredUsername", "url",
                         "href")
    }  # fmt: skip
    tags = node[AS + "tag"]
    assert {t["@type"][0] for t in tags} >= {AS + "Hashtag"}
    if "@ana" in payload["body_md"]:
        [mention] = [t for t in tags if t["@type"] == [AS + "Mention"]]
        assert mention[AS + "href"] == [{"@id": "urn:canteen:person:ana"}]
        assert mention[AS + "name"] == [{"@value": "@ana"}]
    published = node[AS + "published"][0]
    assert published["@type"] == "http://www.w3.org/2001/XMLSchema#dateTime"
    assert node[AS + "updated"][0]["@value"] > published["@value"]
    if "title" in payload:
        assert node[AS + "name"] == [{"@value": payload["title"]}]
    if as2_type == "Page":
        [link] = node[AS + "url"]
        assert link["@type"] == [AS + "Link"]
        assert link[AS + "href"] == [{"@id": "https://kubernetes.io/"}]


async def test_ld_json_with_the_as2_profile_and_plain_json(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    async with activity_store(settings) as store:
        await add_group(store, "g-ops", visibility="public", members={"ana": "member"})
    auth = await login("ana")
    body = {"body_md": "in the group", "group_id": "g-ops"}
    post = (await client.post(POSTS, json=body, headers=auth)).json()
    url = f"{POSTS}/{post['id']}"
    profile = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    ld = await client.get(url, headers={**auth, "Accept": profile})
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert ld.json()["audience"] == {"type": "Group", "id": "http://canteen/api/v1/groups/g-ops"}
    assert expand(ld.json())[AS + "audience"][0]["@type"] == [AS + "Group"]
    for accept in ("application/json", "application/ld+json", "*/*", "text/html"):
        plain = await client.get(url, headers={**auth, "Accept": accept})
        assert plain.headers["content-type"].startswith("application/json"), accept
        assert plain.json()["id"] == post["id"]
    refused = await client.get(url, headers={**auth, "Accept": "application/activity+json;q=0"})
    assert refused.headers["content-type"].startswith("application/json")


ANSWERS = "/api/v1/answers"
COMMENTS = "/api/v1/comments"
AS2 = {"Accept": "application/activity+json"}


async def as2_of(client: httpx.AsyncClient, url: str, auth: dict[str, str]) -> dict[str, Any]:
    response = await client.get(url, headers={**auth, **AS2})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/activity+json")
    assert "Accept" in response.headers["vary"]
    obj: dict[str, Any] = response.json()
    return obj


def check_reply(obj: dict[str, Any], *, url: str, in_reply_to: str, body_html: str) -> None:
    """A reply is a Note whose terms all resolve, `inReplyTo` among them."""
    assert obj["id"] == f"http://canteen{url}"
    node = expand(obj)
    assert node["@type"] == [AS + "Note"]
    assert node[AS + "inReplyTo"] == [{"@id": f"http://canteen{in_reply_to}"}]
    for term in ("attributedTo", "published", "updated", "content", "audience", "source"):
        assert AS + term in node, term
    assert node[AS + "content"][0]["@value"] == body_html
    assert not [k for k in all_keys(node) if k.startswith("_:")], "a term did not resolve"


async def test_answers_and_comments_are_as2_replies(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    await publish(settings, person("ana", "ana", "Ana Alves"))
    ana, bo = await login("ana"), await login("bo")
    ask = {"kind": "question", "title": "How?", "body_md": "Ask #k8s"}
    question = (await client.post(POSTS, json=ask, headers=bo)).json()

    async with activity_store(settings) as store:
        people = store.collection("people")
        await eventually(lambda: people.find_one({"_id": "ana"}), within=60)
    url = f"/api/v1/questions/{question['id']}/answers"
    answer = (await client.post(url, json={"text": "Ask @ana"}, headers=bo)).json()
    url = f"{ANSWERS}/{answer['id']}"
    obj = await as2_of(client, url, ana)
    check_reply(
        obj, url=url, in_reply_to=f"{POSTS}/{question['id']}", body_html=answer["body_html"]
    )
    node = expand(obj)
    assert node[AS + "attributedTo"][0]["@id"] == "urn:canteen:person:bo"
    tags = {t["@type"][0]: t for t in node[AS + "tag"]}
    assert tags[AS + "Hashtag"][AS + "name"] == [{"@value": "#k8s"}]
    assert tags[AS + "Mention"][AS + "name"] == [{"@value": "@ana"}]
    assert node[AS + "audience"][0]["@type"] == [AS + "Organization"]
    plain = await client.get(url, headers={**ana, "Accept": "application/json"})
    assert plain.headers["content-type"].startswith("application/json")
    assert "Accept" in plain.headers["vary"]
    assert plain.json()["id"] == answer["id"] and plain.json()["author"]["id"] == "bo"

    post = (await client.post(POSTS, json={"body_md": "Lunch?"}, headers=ana)).json()
    comments = f"{POSTS}/{post['id']}/comments"
    comment = (await client.post(comments, json={"text": "yes"}, headers=bo)).json()
    body = {"text": "*great*", "parent_id": comment["id"]}
    reply = (await client.post(comments, json=body, headers=ana)).json()
    for item, parent in (
        (comment, f"{POSTS}/{post['id']}"),
        (reply, f"{COMMENTS}/{comment['id']}"),
    ):
        url = f"{COMMENTS}/{item['id']}"
        obj = await as2_of(client, url, bo)
        check_reply(obj, url=url, in_reply_to=parent, body_html=item["body_html"])
    plain = await client.get(f"{COMMENTS}/{reply['id']}", headers=bo)
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json()["parent_id"] == comment["id"]


async def test_a_private_groups_replies_are_404_to_non_members_in_every_form(
    client: httpx.AsyncClient, login: Login, settings: CanteenSettings
) -> None:
    async with activity_store(settings) as store:
        await add_group(store, "g-board", visibility="private", members={"ana": "member"})
    ana, bo, admin = await login("ana"), await login("bo"), await login("root", roles=["admin"])
    ask = {"kind": "question", "title": "Budget?", "body_md": "...", "group_id": "g-board"}
    question = (await client.post(POSTS, json=ask, headers=ana)).json()
    url = f"/api/v1/questions/{question['id']}/answers"
    answer = (await client.post(url, json={"text": "Q3"}, headers=ana)).json()
    comments = f"{POSTS}/{question['id']}/comments"
    comment = (await client.post(comments, json={"text": "hm"}, headers=ana)).json()
    urls = [f"{ANSWERS}/{answer['id']}", f"{COMMENTS}/{comment['id']}"]
    for item_url in urls:
        assert (await as2_of(client, item_url, ana))["audience"]["type"] == "Group"
        for outsider in (bo, admin):
            for accept in ({}, AS2):
                hidden = await client.get(item_url, headers={**outsider, **accept})
                assert hidden.status_code == 404, (item_url, hidden.text)
                assert hidden.headers["content-type"].startswith("application/problem+json")
        unknown = await client.get(item_url + "-nope", headers={**ana, **AS2})
        assert unknown.status_code == 404

    # deleted: the reply itself, or the question it belongs to
    assert (await client.delete(f"{COMMENTS}/{comment['id']}", headers=ana)).status_code == 204
    gone = await client.get(f"{COMMENTS}/{comment['id']}", headers={**ana, **AS2})
    assert gone.status_code == 404
    assert (await client.delete(f"{POSTS}/{question['id']}", headers=ana)).status_code == 204
    gone = await client.get(f"{ANSWERS}/{answer['id']}", headers={**ana, **AS2})
    assert gone.status_code == 404

"""A post as an Activity Streams 2.0 object (`Accept: application/activity+json`).

Types: note -> Note, question -> Question, article -> Article, resource -> Page whose `url`
is a Link to the shared page. A resource is not itself an AS2 `Link`: a Link carries only
href/rel/mediaType/name, while a shared resource has an author, a date, a description and
tags — an Object (a Page, "a Web Page") that *points to* the page through `url`.

Answers and comments are replies: a `Note` whose `inReplyTo` is the AS2 id of what it
answers (the question, the post, or the parent comment), as Mastodon and the AS2 vocabulary
spec (§5.7 "inReplyTo") model a thread. They carry the same `audience` as their post.

`Hashtag` is not in the normative AS2 context; like Mastodon and most of the fediverse we
map it to `as:Hashtag` in a local context entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

AS2_CONTEXT = "https://www.w3.org/ns/activitystreams"
CONTEXT: list[Any] = [AS2_CONTEXT, {"Hashtag": "as:Hashtag"}]
ACTIVITY_JSON = "application/activity+json"
LD_JSON_AS2 = f'application/ld+json; profile="{AS2_CONTEXT}"'
_TYPES = {"note": "Note", "question": "Question", "article": "Article", "resource": "Page"}


def wants_activity_streams(accept: str | None) -> bool:
    """Does the Accept header ask for AS2 (activity+json, or ld+json with the AS2 profile)?"""
    for media_range in (accept or "").split(","):
        kind, *params = (p.strip() for p in media_range.split(";"))
        values = dict(_param(p) for p in params if "=" in p)
        if values.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if kind.lower() == ACTIVITY_JSON:
            return True
        if kind.lower() == "application/ld+json" and AS2_CONTEXT in values.get("profile", ""):
            return True
    return False


def media_type_for(accept: str | None) -> str:
    return ACTIVITY_JSON if ACTIVITY_JSON in (accept or "").lower() else LD_JSON_AS2


def _param(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    return name.strip().lower(), value.strip().strip('"')


def person_iri(user_id: str) -> str:
    # People belong to the profiles service; a URN names them without inventing a route.
    return f"urn:canteen:person:{user_id}"


def as2_post(
    post: dict[str, Any], *, post_url: str, people: dict[str, dict[str, Any]], base_url: str
) -> dict[str, Any]:
    """The AS2 object of a post; `post_url` and `base_url` are absolute.

    `people` holds the display data (`author_view`) of the author and the mentioned.
    """
    obj = _object(post, _TYPES[post["kind"]], object_url=post_url, people=people, base_url=base_url)
    if post.get("title"):
        obj["name"] = post["title"]
    if post["kind"] == "resource" and post.get("url"):
        obj["url"] = {"type": "Link", "href": post["url"], "mediaType": "text/html"}
    return obj


def as2_reply(
    reply: dict[str, Any],
    *,
    reply_url: str,
    in_reply_to: str,
    people: dict[str, dict[str, Any]],
    base_url: str,
) -> dict[str, Any]:
    """The AS2 `Note` of an answer or a comment, replying to the absolute id `in_reply_to`."""
    obj = _object(reply, "Note", object_url=reply_url, people=people, base_url=base_url)
    obj["inReplyTo"] = in_reply_to
    return obj


def _object(
    doc: dict[str, Any],
    as2_type: str,
    *,
    object_url: str,
    people: dict[str, dict[str, Any]],
    base_url: str,
) -> dict[str, Any]:
    author = people[doc["author_id"]]
    return {
        "@context": CONTEXT,
        "id": object_url,
        "type": as2_type,
        "attributedTo": {
            "type": "Person",
            "id": person_iri(doc["author_id"]),
            "name": author["display_name"],
            **({"preferredUsername": author["handle"]} if author.get("handle") else {}),
        },
        "published": _iso(doc["created_at"]),
        "updated": _iso(doc.get("edited_at") or doc["created_at"]),
        "content": doc["body_html"],
        "mediaType": "text/html",
        "source": {"content": doc["body_md"], "mediaType": "text/markdown"},
        "tag": [{"type": "Hashtag", "name": f"#{t}"} for t in doc.get("topics", [])]
        + [_mention(m, people.get(m)) for m in doc.get("mentions", [])],
        "audience": _audience(doc, base_url),
    }


def _mention(user_id: str, person: dict[str, Any] | None) -> dict[str, Any]:
    mention: dict[str, Any] = {"type": "Mention", "href": person_iri(user_id)}
    if person and person.get("handle"):
        mention["name"] = f"@{person['handle']}"
    return mention


def _audience(post: dict[str, Any], base_url: str) -> dict[str, Any]:
    root = base_url.rstrip("/")
    if post["audience"] == "group":
        return {"type": "Group", "id": f"{root}/api/v1/groups/{post['group_id']}"}
    return {"type": "Organization", "id": f"{root}/"}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")

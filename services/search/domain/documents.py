"""Search documents built from projection states (pure): what the index stores and shows.

`audience` is the privacy boundary every query filters on: `org` for what everyone signed
in may read (org posts, public groups and their posts, people), the group id for a private
group's items. A deleted group's items keep the group id as audience, and a deleted group
counts no members, so they are visible to no one.
"""

from __future__ import annotations

from typing import Any

from services.search.domain.folds import State

MAX_TEXT = 20_000


def audience_of(placement: dict[str, Any], group: State | None) -> str:
    """`org`, or the group id when the item lives in a private (or deleted) group."""
    if placement.get("audience", "org") == "org" or not placement.get("group_id"):
        return "org"
    group_id: str = placement["group_id"]
    if group is not None and group.get("group") is not None:
        if group.get("deleted"):
            return group_id
        visibility = group["group"].get("visibility")
    elif group is not None and group.get("deleted"):
        return group_id
    else:
        visibility = placement.get("group_visibility")
    return "org" if visibility == "public" else group_id


def post_family(state: State) -> str | None:
    post = state.get("post")
    if post is None:
        return None
    return "resources" if post["kind"] == "resource" else "posts"


def post_document(state: State, group: State | None, author: State | None) -> dict[str, Any] | None:
    """The post's document, or None when it must not be searchable (deleted, not seen yet)."""
    post = state.get("post")
    if post is None or state.get("deleted"):
        return None
    answers = [a for a in state.get("answers", []) if not a.get("deleted") and a.get("stamp")]
    accepted_id = (state.get("accepted") or {}).get("answer_id")
    accepted = next((a for a in answers if a["id"] == accepted_id), None)
    person = (author or {}).get("person") or {}
    score = sum(max(a.get("score", 0), 0) for a in answers)
    doc: dict[str, Any] = {
        "type": post["kind"],
        "title": post.get("title") or "",
        "text": post.get("text", "")[:MAX_TEXT],
        "answers": "\n".join(a["text"] for a in answers if a is not accepted)[:MAX_TEXT],
        "accepted_answer": (accepted or {}).get("text", "")[:MAX_TEXT],
        "topic": list(post.get("topics", [])),
        "topic_words": " ".join(t.replace("-", " ") for t in post.get("topics", [])),
        "author": post["author_id"],
        "author_name": person.get("display_name") or "",
        "department": person.get("department") or None,
        "group": post.get("group_id"),
        "url": post.get("url"),
        "resource_type": post.get("resource_type"),
        "created_at": post.get("created_at") or post.get("edited_at"),
        "engagement": len(answers) + score + int(state.get("reactions", 0)),
        "audience": audience_of(post, group),
    }
    if post["kind"] == "question":
        doc["state"] = "answered" if accepted is not None else "open"
        doc["accepted"] = accepted is not None
        doc["answer_count"] = len(answers)
        doc["accepted_answer_id"] = accepted["id"] if accepted else None
    return {k: v for k, v in doc.items() if v is not None}


def visible_expertise(state: State) -> list[dict[str, Any]]:
    """Expertise entries that may be shown: hidden topics are dropped, best first."""
    shown = [e for e in state.get("expertise", []) if not e.get("hidden") and e["score"] > 0]
    return sorted(shown, key=lambda e: (-e["score"], e["topic"]))


def person_document(state: State) -> dict[str, Any] | None:
    """The person's document; None when deactivated or only partly known."""
    person = state.get("person")
    if not person or person.get("partial") or not person.get("active", True):
        return None
    expertise = visible_expertise(state)
    topics = [e["topic"] for e in expertise]
    doc = {
        "type": "person",
        "name": person["display_name"],
        "handle": person["handle"],
        "handle_words": person["handle"].replace(".", " ").replace("_", " "),
        "title": person.get("title") or "",
        "department": person.get("department"),
        "avatar_url": person.get("avatar_url"),
        "topic": topics,
        "topic_words": " ".join(t.replace("-", " ") for t in topics),
        "expertise": [f"{e['topic']}={e['score']:.6g}" for e in expertise],
        "created_at": person.get("created_at"),
        "audience": "org",
    }
    return {k: v for k, v in doc.items() if v is not None}


def expertise_scores(source: dict[str, Any]) -> dict[str, float]:
    """Decode a person document's `expertise` field back into topic -> score."""
    out: dict[str, float] = {}
    for entry in source.get("expertise", []):
        topic, _, score = str(entry).rpartition("=")
        try:
            out[topic] = float(score)
        except ValueError:
            continue
    return out


def group_document(state: State) -> dict[str, Any] | None:
    group = state.get("group")
    if group is None or state.get("deleted"):
        return None
    public = group["visibility"] == "public"
    return {
        "type": "group",
        "name": group["name"],
        "description": group.get("description", ""),
        "slug": group["slug"],
        "group": state["_id"],
        "visibility": group["visibility"],
        "created_at": group.get("created_at") or group.get("updated_at"),
        "audience": "org" if public else state["_id"],
    }

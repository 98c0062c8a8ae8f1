"""Fold events into the search service's own projection documents (pure, no I/O).

Each function takes the current projection state (a dict, or None when absent) and returns
the new state, or None when the event changes nothing (duplicate, late or superseded).
Ordering uses a `stamp`: the event time in microseconds (zero-padded) followed by the event
id (UUIDv7, time-ordered), so stamps compare as strings and never tie. Within one part of a
document (the post itself, one answer, the accepted answer, one reaction, ...) the highest
stamp wins; a deletion is final. So applying any permutation of a set of events, with any
duplicates, gives the same state.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

State = dict[str, Any]


def stamp_of(time: datetime, event_id: str) -> str:
    micros = int(time.timestamp() * 1_000_000)
    return f"{micros:017d}:{event_id}"


def _newer(stamp: str, current: str | None) -> bool:
    return current is None or stamp > current


# --- posts (with answers, accepted answer and engagement folded in) -----------------------


def empty_post(post_id: str) -> State:
    return {"_id": post_id, "post": None, "deleted": False, "answers": [], "accepted": None}


def apply_post(
    state: State | None, post_id: str, fields: dict[str, Any], stamp: str
) -> State | None:
    """A created or updated post (its whole searchable snapshot)."""
    state = copy.deepcopy(state) if state else empty_post(post_id)
    return _snapshot(state, "post", fields, stamp)


def _snapshot(state: State, key: str, fields: dict[str, Any], stamp: str) -> State | None:
    """Newest snapshot wins; `created_at` comes from the creation event whenever it lands."""
    current = state[key] or {}
    if state["deleted"]:
        return None
    if not _newer(stamp, current.get("stamp")):
        if current.get("created_at") is None and fields.get("created_at") is not None:
            state[key] = {**current, "created_at": fields["created_at"]}
            return state
        return None
    state[key] = {
        **fields,
        "created_at": current.get("created_at") or fields.get("created_at"),
        "stamp": stamp,
    }
    return state


def apply_post_deleted(state: State | None, post_id: str) -> State | None:
    state = copy.deepcopy(state) if state else empty_post(post_id)
    if state["deleted"]:
        return None
    state["deleted"] = True
    return state


def _answer(state: State, answer_id: str) -> dict[str, Any]:
    for answer in state["answers"]:
        if answer["id"] == answer_id:
            return dict(answer)
    return {"id": answer_id, "stamp": None, "deleted": False, "score": 0, "text": ""}


def _put_answer(state: State, answer: dict[str, Any]) -> None:
    others = [a for a in state["answers"] if a["id"] != answer["id"]]
    state["answers"] = sorted([*others, answer], key=lambda a: a["id"])


def apply_answer(
    state: State | None, question_id: str, answer_id: str, author_id: str, text: str, stamp: str
) -> State | None:
    state = copy.deepcopy(state) if state else empty_post(question_id)
    answer = _answer(state, answer_id)
    if answer["deleted"] or not _newer(stamp, answer["stamp"]):
        return None
    answer.update(author_id=author_id, text=text, stamp=stamp)
    _put_answer(state, answer)
    return state


def apply_answer_deleted(state: State | None, question_id: str, answer_id: str) -> State | None:
    state = copy.deepcopy(state) if state else empty_post(question_id)
    answer = _answer(state, answer_id)
    if answer["deleted"]:
        return None
    answer.update(deleted=True, text="")
    _put_answer(state, answer)
    return state


def apply_accepted(
    state: State | None, question_id: str, answer_id: str, accepted: bool, stamp: str
) -> State | None:
    state = copy.deepcopy(state) if state else empty_post(question_id)
    current = state["accepted"] or {"answer_id": None, "stamp": None}
    if not _newer(stamp, current["stamp"]):
        return None
    if accepted:
        state["accepted"] = {"answer_id": answer_id, "stamp": stamp}
    elif current["answer_id"] in (answer_id, None):
        state["accepted"] = {"answer_id": None, "stamp": stamp}
    else:
        return None
    return state


def set_answer_score(
    state: State | None, question_id: str, answer_id: str, score: int
) -> State | None:
    state = copy.deepcopy(state) if state else empty_post(question_id)
    answer = _answer(state, answer_id)
    if answer.get("score", 0) == score:
        return None
    answer["score"] = score
    _put_answer(state, answer)
    return state


def set_reactions(state: State | None, post_id: str, count: int) -> State | None:
    state = copy.deepcopy(state) if state else empty_post(post_id)
    if state.get("reactions", 0) == count:
        return None
    state["reactions"] = count
    return state


# --- groups, memberships, people ---------------------------------------------------------


def apply_group(
    state: State | None, group_id: str, fields: dict[str, Any], stamp: str
) -> State | None:
    state = copy.deepcopy(state) if state else {"_id": group_id, "group": None, "deleted": False}
    return _snapshot(state, "group", fields, stamp)


def apply_group_deleted(state: State | None, group_id: str) -> State | None:
    state = copy.deepcopy(state) if state else {"_id": group_id, "group": None, "deleted": False}
    if state["deleted"]:
        return None
    state["deleted"] = True
    return state


def apply_membership(
    state: State | None, group_id: str, user_id: str, active: bool, stamp: str
) -> State | None:
    if state is not None and not _newer(stamp, state.get("stamp")):
        return None
    return {
        "_id": f"{group_id}:{user_id}",
        "group_id": group_id,
        "user_id": user_id,
        "active": active,
        "stamp": stamp,
    }


def empty_person(person_id: str) -> State:
    return {"_id": person_id, "person": None, "expertise": []}


def apply_person(
    state: State | None, person_id: str, fields: dict[str, Any], stamp: str
) -> State | None:
    state = copy.deepcopy(state) if state else empty_person(person_id)
    state.setdefault("deleted", False)
    return _snapshot(state, "person", fields, stamp)


def apply_person_active(
    state: State | None, person_id: str, active: bool, stamp: str
) -> State | None:
    state = copy.deepcopy(state) if state else empty_person(person_id)
    person = state["person"] or {"active": active, "stamp": None, "partial": True}
    if not _newer(stamp, person.get("stamp")):
        return None
    state["person"] = {**person, "active": active, "stamp": stamp}
    return state


def apply_expertise(
    state: State | None, person_id: str, topic: str, score: float, hidden: bool, stamp: str
) -> State | None:
    """One (person, topic) score; a hidden topic is kept hidden, never shown or ranked."""
    state = copy.deepcopy(state) if state else empty_person(person_id)
    current = next((e for e in state["expertise"] if e["topic"] == topic), None)
    if current is not None and not _newer(stamp, current["stamp"]):
        return None
    entry = {"topic": topic, "score": float(score), "hidden": hidden, "stamp": stamp}
    others = [e for e in state["expertise"] if e["topic"] != topic]
    state["expertise"] = sorted([*others, entry], key=lambda e: e["topic"])
    return state

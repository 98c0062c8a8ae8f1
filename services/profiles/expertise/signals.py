"""What each scoring event changes in a source: pure, shared by both consumer paths.

A *signal* is `(source_id, update)`: a set-like update (`$set`, `$addToSet`, `$pull`,
`$max`, `$setOnInsert`) of one source document (`post:<id>` or `answer:<id>`). The per-event
handlers and the batched path apply exactly these updates, in offset order, so both reach
the same source state.
"""

from __future__ import annotations

from typing import Any

from shared.events.schemas.activity.discussion import (
    AnswerAccepted,
    AnswerCreated,
    AnswerDeleted,
    AnswerUpdated,
    ReactionRemoved,
    ReactionSet,
    VoteSet,
)
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostUpdated

Signal = tuple[str, dict[str, Any]]
Placed = PostCreated | PostUpdated | AnswerCreated | AnswerUpdated | AnswerAccepted | VoteSet
Scoring = (
    PostCreated
    | PostUpdated
    | PostDeleted
    | AnswerCreated
    | AnswerUpdated
    | AnswerDeleted
    | AnswerAccepted
    | VoteSet
    | ReactionSet
    | ReactionRemoved
)


def _about(data: Placed, author_id: str, topics: list[str]) -> dict[str, Any]:
    """`$set` and `$addToSet` parts every event about a source carries."""
    return {
        "$set": {
            "author_id": author_id,
            "topics": topics,
            "audience": data.audience,
            "group_id": data.group_id,
            "group_visibility": data.group_visibility,
        },
        "$addToSet": {"topics_all": {"$each": topics}},
    }


def signal(data: Scoring) -> Signal | None:
    """The source update an event implies; None when it counts for nobody."""
    if isinstance(data, PostCreated | PostUpdated | PostDeleted):
        return _post(data)
    if isinstance(data, ReactionSet | ReactionRemoved):
        if data.target_type != "post" or data.user_id == data.target_author_id:
            return None
        op = "$addToSet" if isinstance(data, ReactionSet) else "$pull"
        return f"post:{data.target_id}", {
            "$set": {"author_id": data.target_author_id},
            op: {"reactors": data.user_id},
        }
    return _answer(data)


def _post(data: PostCreated | PostUpdated | PostDeleted) -> Signal | None:
    if data.kind == "question":
        return None  # questions count for nobody; the local copies remember them
    if isinstance(data, PostDeleted):
        return f"post:{data.id}", {"$set": {"deleted": True, "author_id": data.author_id}}
    update = _about(data, data.author_id, data.topics)
    if isinstance(data, PostCreated):
        update["$set"] |= {"kind": data.kind, "at": data.created_at}
    else:
        update["$set"]["kind"] = data.kind
        update["$setOnInsert"] = {"at": data.edited_at}
    return f"post:{data.id}", update


def _answer(
    data: AnswerCreated | AnswerUpdated | AnswerDeleted | AnswerAccepted | VoteSet,
) -> Signal:
    if isinstance(data, AnswerDeleted):
        update: dict[str, Any] = {"$set": {"deleted": True, "author_id": data.author_id}}
        update["$addToSet"] = {"topics_all": {"$each": data.topics}}
        return f"answer:{data.id}", update
    if isinstance(data, AnswerCreated):
        update = _about(data, data.author_id, data.topics)
        update["$set"] |= {"question_id": data.question_id, "answered_at": data.created_at}
        return f"answer:{data.id}", update
    if isinstance(data, AnswerUpdated):
        update = _about(data, data.author_id, data.topics)
        update["$set"]["question_id"] = data.question_id
        return f"answer:{data.id}", update
    if isinstance(data, AnswerAccepted):
        update = _about(data, data.answer_author_id, data.topics)
        update["$set"] |= {
            "question_id": data.question_id,
            "accepted": data.accepted,
            "accepted_at": data.at,
        }
        return f"answer:{data.answer_id}", update
    return f"answer:{data.answer_id}", _vote(data)


def _vote(data: VoteSet) -> dict[str, Any]:
    update = _about(data, data.answer_author_id, data.topics)
    update["$set"]["question_id"] = data.question_id
    update["$max"] = {"votes_at": data.at}
    voter = data.voter_id
    if data.value == 1:
        update["$addToSet"]["up"] = voter
        update["$pull"] = {"down": voter}
    elif data.value == -1:
        update["$addToSet"]["down"] = voter
        update["$pull"] = {"up": voter}
    else:
        update["$pull"] = {"up": voter, "down": voter}
    return update

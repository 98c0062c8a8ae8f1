"""OpenAPI examples of the comments and reactions routes."""

from pydantic.config import JsonDict

from services.activity.examples import COMMENT_ID, NOTE_ID

COMMENT_IN: JsonDict = {"text": "Smooth upgrade, no pager noise at all."}
REPLY_IN: JsonDict = {
    "text": "Agreed, the canary step caught the only issue.",
    "parent_id": COMMENT_ID,
}
COMMENT: JsonDict = {
    "id": COMMENT_ID,
    "post_id": NOTE_ID,
    "parent_id": None,
    "author_id": "bo",
    "author": {"id": "bo", "handle": "bo", "display_name": "Bo Berg", "avatar_url": None},
    "body_md": "Smooth upgrade, no pager noise at all.",
    "body_html": "<p>Smooth upgrade, no pager noise at all.</p>",
    "text": "Smooth upgrade, no pager noise at all.",
    "created_at": "2026-11-30T14:53:35.632863Z",
    "deleted": False,
    "counts": {"reactions": 1},
    "reactions_by_kind": {"like": 1},
}
REACTION_IN: JsonDict = {"kind": "celebrate"}
REACTION: JsonDict = {"kind": "celebrate", "previous_kind": "like"}
REACTIONS: JsonDict = {
    "total": 5,
    "by_kind": {"like": 3, "insightful": 0, "thanks": 1, "celebrate": 1},
    "mine": "celebrate",
}

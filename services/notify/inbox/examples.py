"""OpenAPI examples of the inbox routes."""

from pydantic.config import JsonDict

QUESTION_ID = "01a22cf2-6fe6-71a8-a336-e67ce34221d0"
TARGET: JsonDict = {"type": "question", "id": QUESTION_ID}
NOTIFICATION: JsonDict = {
    "id": "01a22cf2-7a01-7c11-8a2e-3f5b9d0c1e42",
    "type": "answer.created",
    "actor_id": "ana",
    "target": TARGET,
    "title": "New answer to your question",
    "summary": "ana answered your question",
    "link": f"/posts/{QUESTION_ID}",
    "critical": False,
    "private": False,
    "created_at": "2026-11-30T14:53:35.700000Z",
    "seq": 42,
    "read": False,
    "read_at": None,
    "seen": True,
}
GROUP: JsonDict = {
    "id": "01a22cf2-7a01-7c11-8a2e-3f5b9d0c1e40",
    "type": "answer.created",
    "target": TARGET,
    "count": 3,
    "unread": 2,
    "actors": ["ana", "bo"],
    "actor_count": 2,
    "summary": "ana and 1 other answered your question",
    "link": f"/posts/{QUESTION_ID}",
    "critical": False,
    "latest_at": "2026-11-30T14:53:35.700000Z",
    "items": [NOTIFICATION],
}
UNREAD: JsonDict = {"unread": 2, "unseen": 0}

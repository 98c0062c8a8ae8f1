"""OpenAPI examples of the follow routes."""

from pydantic.config import JsonDict

FOLLOW: JsonDict = {
    "follower_id": "bo",
    "target_type": "person",
    "target_id": "ana",
    "created_at": "2026-11-30T14:53:35.561000Z",
}
FOLLOW_TOPIC: JsonDict = {**FOLLOW, "target_type": "topic", "target_id": "kubernetes"}
STATS: JsonDict = {"followers": 42, "following": 17}

"""OpenAPI examples of the expertise routes (experts, who to ask, suggestions)."""

from pydantic.config import JsonDict

EVIDENCE: JsonDict = {
    "kind": "endorsement",
    "ref_id": "bo",
    "link": "/api/v1/people/bo",
    "weight": 1.98,
    "base_weight": 2.0,
    "at": "2026-11-30T14:53:36.238000Z",
    "group_id": None,
}
TOPIC: JsonDict = {"topic": "kubernetes", "score": 0.93, "hidden": False, "evidence": [EVIDENCE]}
EXPERTISE: JsonDict = {"person_id": "ana", "topics": [TOPIC]}
EXPERT: JsonDict = {
    "person_id": "ana",
    "handle": "ana",
    "display_name": "Ana Lima",
    "topic": "kubernetes",
    "score": 0.93,
    "evidence": [EVIDENCE],
}
ASK: JsonDict = {
    "person_id": "ana",
    "handle": "ana",
    "display_name": "Ana Lima",
    "score": 0.93,
    "rank_score": 0.88,
    "open_requests": 1,
    "topics": ["kubernetes"],
    "evidence": [EVIDENCE],
}
SUGGESTION: JsonDict = {
    "person_id": "ana",
    "handle": "ana",
    "display_name": "Ana Lima",
    "reason": "expert",
    "topic": "kubernetes",
    "department": None,
}
HIDDEN_TOPICS: JsonDict = {"hidden_topics": ["random", "football"]}

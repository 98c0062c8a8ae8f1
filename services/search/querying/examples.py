"""OpenAPI examples of the search routes."""

from pydantic.config import JsonDict

QUESTION_ID = "01a22cf2-6fe6-71a8-a336-e67ce34221d0"
HIT: JsonDict = {
    "id": QUESTION_ID,
    "type": "question",
    "title": "How do I rotate my kube credentials?",
    "score": 7.42,
    "highlights": {"body": ["My <em>kubeconfig</em> token expired. What is the supported way"]},
    "topics": ["kubernetes", "security"],
    "author": "cy",
    "group": None,
    "url": None,
    "state": "answered",
    "engagement": 4,
    "answer_count": 1,
    "handle": None,
    "created_at": "2026-11-30T14:53:35.590000Z",
}
PERSON_HIT: JsonDict = {
    **HIT,
    "id": "ana",
    "type": "person",
    "title": "Ana Lima",
    "score": 5.1,
    "highlights": {"bio": ["Ask me about <em>Kubernetes</em> upgrades"]},
    "topics": ["kubernetes"],
    "author": None,
    "state": None,
    "engagement": None,
    "answer_count": None,
    "handle": "ana",
    "created_at": "2026-11-30T14:53:36.205000Z",
}
SEARCH_PAGE: JsonDict = {
    "items": [HIT, PERSON_HIT],
    "total": 14,
    "facets": {
        "type": [{"value": "question", "count": 6}, {"value": "note", "count": 5}],
        "topic": [{"value": "kubernetes", "count": 14}, {"value": "security", "count": 3}],
        "author": [{"value": "ana", "count": 7}, {"value": "cy", "count": 2}],
        "group": [{"value": "01a22cf2-6faf-71e0-a014-f52a10c07559", "count": 4}],
        "department": [{"value": "Platform", "count": 1}],
    },
    "next_cursor": "djE.Zk3x9Q2bTqg1XvA8mJc0pN7rYs4.eyJxIjoia3ViZSJ9",
    "did_you_mean": None,
}
SUGGESTIONS: JsonDict = {
    "items": [
        {"id": QUESTION_ID, "text": "How do I rotate my kube credentials?", "type": "question"},
        {"id": "ana", "text": "Ana Lima", "type": "person"},
        {"id": "kubernetes", "text": "kubernetes", "type": "topic"},
    ]
}
EXPERTS: JsonDict = {
    "items": [
        {
            "id": "ana",
            "handle": "ana",
            "name": "Ana Lima",
            "title": "Staff engineer",
            "department": "Platform",
            "topic": "kubernetes",
            "score": 0.93,
        }
    ]
}
SYNONYMS: JsonDict = {"rules": ["k8s, kubernetes, kube", "pto => paid time off, vacation"]}

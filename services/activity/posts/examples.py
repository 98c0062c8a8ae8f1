"""OpenAPI examples of the posts routes (and of the feeds, whose items are posts)."""

from pydantic.config import JsonDict

from services.activity.examples import ANA, CY, GROUP_ID, NOTE_ID, QUESTION_ID

AUTHOR: JsonDict = ANA
NEW_NOTE: JsonDict = {
    "kind": "note",
    "body_md": "Cluster upgrade to **1.31** is done; thanks @bo! #kubernetes",
    "tags": ["kubernetes"],
    "group_id": GROUP_ID,
}
NEW_QUESTION: JsonDict = {
    "kind": "question",
    "title": "How do I rotate my kube credentials?",
    "body_md": "My kubeconfig token expired. What is the supported way to get a new one?",
    "tags": ["kubernetes", "security"],
}
NEW_RESOURCE: JsonDict = {
    "kind": "resource",
    "title": "Paved road: deploying a service",
    "url": "https://wiki.example.com/platform/paved-road",
    "resource_type": "how-to",
    "tags": ["kubernetes", "ci"],
}
POST_PATCH: JsonDict = {
    "body_md": "Cluster upgrade to **1.31** is done on all three regions. #kubernetes"
}

NOTE: JsonDict = {
    "id": NOTE_ID,
    "kind": "note",
    "author_id": "ana",
    "author": ANA,
    "audience": "group",
    "group_id": GROUP_ID,
    "group_visibility": "public",
    "title": None,
    "body_md": "Cluster upgrade to **1.31** is done; thanks @bo! #kubernetes",
    "body_html": "<p>Cluster upgrade to <strong>1.31</strong> is done; thanks @bo! #kubernetes</p>",
    "text": "Cluster upgrade to 1.31 is done; thanks @bo! #kubernetes",
    "url": None,
    "resource_type": None,
    "tags": ["kubernetes"],
    "topics": ["kubernetes"],
    "mentions": ["bo"],
    "created_at": "2026-11-30T14:53:35.582000Z",
    "edited_at": None,
    "revision": 0,
    "pinned": False,
    "counts": {"comments": 1, "reactions": 2, "answers": 0},
    "reactions_by_kind": {"like": 1, "celebrate": 1},
    "state": None,
    "accepted_answer_id": None,
}
QUESTION: JsonDict = {
    **NOTE,
    "id": QUESTION_ID,
    "kind": "question",
    "author_id": "cy",
    "author": CY,
    "audience": "org",
    "group_id": None,
    "group_visibility": None,
    "title": "How do I rotate my kube credentials?",
    "body_md": "My kubeconfig token expired. What is the supported way to get a new one?",
    "body_html": "<p>My kubeconfig token expired. What is the supported way to get a new one?</p>",
    "text": "My kubeconfig token expired. What is the supported way to get a new one?",
    "tags": ["kubernetes", "security"],
    "topics": ["kubernetes", "security"],
    "mentions": [],
    "created_at": "2026-11-30T14:53:35.590000Z",
    "counts": {"comments": 0, "reactions": 0, "answers": 1},
    "reactions_by_kind": {},
    "state": "open",
}

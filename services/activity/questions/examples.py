"""OpenAPI examples of the questions and answers routes."""

from pydantic.config import JsonDict

from services.activity.examples import ANA, ANSWER_ID, QUESTION_ID

ANSWER_IN: JsonDict = {"text": "Run `canteen-cli kube login`; it refreshes the token through SSO."}
VOTE_IN: JsonDict = {"value": 1}
ACCEPT_IN: JsonDict = {"answer_id": ANSWER_ID}
VOTES: JsonDict = {"up": 3, "down": 0, "score": 3}
ANSWER: JsonDict = {
    "id": ANSWER_ID,
    "question_id": QUESTION_ID,
    "author_id": "ana",
    "author": ANA,
    "body_md": "Run `canteen-cli kube login`; it refreshes the token through SSO.",
    "body_html": (
        "<p>Run <code>canteen-cli kube login</code>; it refreshes the token through SSO.</p>"
    ),
    "text": "Run canteen-cli kube login; it refreshes the token through SSO.",
    "audience": "org",
    "group_id": None,
    "created_at": "2026-11-30T14:53:35.599101Z",
    "edited_at": None,
    "revision": 0,
    "votes": VOTES,
    "counts": {"reactions": 1},
    "reactions_by_kind": {"thanks": 1},
    "accepted": True,
    "my_vote": 1,
}
VOTE: JsonDict = {"answer_id": ANSWER_ID, "value": 1, "previous_value": 0}
ACCEPTED: JsonDict = {
    "question_id": QUESTION_ID,
    "state": "answered",
    "accepted_answer_id": ANSWER_ID,
}
QUESTION: JsonDict = {
    "id": QUESTION_ID,
    "author_id": "cy",
    "audience": "org",
    "group_id": None,
    "title": "How do I rotate my kube credentials?",
    "text": "My kubeconfig token expired. What is the supported way to get a new one?",
    "topics": ["kubernetes", "security"],
    "state": "answered",
    "accepted_answer_id": ANSWER_ID,
    "counts": {"comments": 0, "reactions": 0, "answers": 1},
    "created_at": "2026-11-30T14:53:35.590000Z",
}

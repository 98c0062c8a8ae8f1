"""OpenAPI examples of the people routes."""

from pydantic.config import JsonDict

PERSON_PATCH: JsonDict = {
    "display_name": "Ana Lima",
    "location": "Lisbon",
    "bio": "Platform engineer. Ask me about Kubernetes upgrades and the paved road.",
    "languages": ["pt", "en"],
    "time_zone": "Europe/Lisbon",
    "links": [{"label": "Team page", "url": "https://wiki.example.com/platform"}],
}
PERSON_IN: JsonDict = {
    "id": "bo",
    "display_name": "Bo Berg",
    "handle": "bo.berg",
    "title": "Site reliability engineer",
    "department": "Platform",
    "manager_id": "ana",
    "location": "Stockholm",
}
PERSON: JsonDict = {
    "id": "ana",
    "handle": "ana",
    "display_name": "Ana Lima",
    "title": "Staff engineer",
    "department": "Platform",
    "location": "Lisbon",
    "manager_id": "dora",
    "bio": "Platform engineer. Ask me about Kubernetes upgrades and the paved road.",
    "avatar_url": "https://intranet.example.com/avatars/ana.png",
    "languages": ["pt", "en"],
    "time_zone": "Europe/Lisbon",
    "links": [{"label": "Team page", "url": "https://wiki.example.com/platform"}],
    "active": True,
    "hidden_topics": ["random"],
    "created_at": "2026-11-30T14:53:36.205000Z",
    "updated_at": "2026-11-30T14:53:36.220000Z",
}
LINK: JsonDict = {"label": "Team page", "url": "https://wiki.example.com/platform"}

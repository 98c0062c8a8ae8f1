"""OpenAPI examples of the skills and endorsements routes."""

from pydantic.config import JsonDict

SKILL_IN: JsonDict = {"name": "kubernetes", "aliases": ["k8s"], "parent_id": "cloud"}
SKILL_PATCH: JsonDict = {"aliases": ["k8s", "kube"]}
SKILL: JsonDict = {
    "id": "kubernetes",
    "name": "kubernetes",
    "aliases": ["k8s"],
    "parent_id": "cloud",
}
LEVEL_IN: JsonDict = {"level": 4}
DECLARED: JsonDict = {
    "person_id": "ana",
    "skill_id": "kubernetes",
    "level": 4,
    "declared_at": "2026-11-30T14:53:36.229000Z",
}
PERSON_SKILL: JsonDict = {
    "skill_id": "kubernetes",
    "name": "kubernetes",
    "level": 4,
    "endorsements": 7,
    "endorsed_by_me": True,
}
PERSON_SKILLS: JsonDict = {
    "person_id": "ana",
    "skills": [
        PERSON_SKILL,
        {
            "skill_id": "terraform",
            "name": "terraform",
            "level": None,
            "endorsements": 2,
            "endorsed_by_me": False,
        },
    ],
}
ENDORSEMENT: JsonDict = {
    "id": "bo:ana:kubernetes",
    "endorser_id": "bo",
    "person_id": "ana",
    "skill_id": "kubernetes",
    "at": "2026-11-30T14:53:36.238000Z",
}

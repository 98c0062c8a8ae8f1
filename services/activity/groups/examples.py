"""OpenAPI examples of the group and membership routes."""

from pydantic.config import JsonDict

from services.activity.examples import GROUP_ID as GROUP_ID

GROUP_IN: JsonDict = {
    "name": "Platform guild",
    "slug": "platform-guild",
    "description": "Kubernetes, CI and the paved road.",
    "visibility": "public",
    "join_policy": "open",
}
PRIVATE_GROUP_IN: JsonDict = {
    "name": "Incident reviews",
    "slug": "incident-reviews",
    "visibility": "private",
    "join_policy": "invite",
}
GROUP_PATCH: JsonDict = {"description": "Kubernetes, CI, observability and the paved road."}
INVITATION_IN: JsonDict = {"user_id": "bo"}
ROLE_IN: JsonDict = {"role": "admin"}
GROUP: JsonDict = {
    "id": GROUP_ID,
    "slug": "platform-guild",
    "name": "Platform guild",
    "description": "Kubernetes, CI and the paved road.",
    "visibility": "public",
    "join_policy": "open",
    "owner_id": "ana",
    "member_count": 12,
    "created_at": "2026-11-30T14:53:35.535000Z",
    "updated_at": "2026-11-30T14:53:35.535000Z",
}
MEMBERSHIP: JsonDict = {
    "group_id": GROUP_ID,
    "user_id": "bo",
    "state": "active",
    "role": "member",
    "joined_at": "2026-11-30T14:53:35.540000Z",
    "updated_at": "2026-11-30T14:53:35.540000Z",
}

"""OpenAPI examples of the SCIM routes: what Entra ID or Okta send, and what they read back.

The discovery examples are the real documents (`discovery.py`) at an example base URL.
"""

from typing import Any

from pydantic.config import JsonDict

from services.profiles.scim.discovery import (
    list_response,
    resource_types,
    schemas,
    service_provider_config,
)
from services.profiles.scim.mapping import CORE_USER, ENTERPRISE
from services.profiles.scim.patch import PATCH_SCHEMA

BASE = "https://canteen.example.com/scim/v2"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

NEW_USER: JsonDict = {
    "schemas": [CORE_USER, ENTERPRISE],
    "externalId": "00u1a2b3c4d5e6f7g8h9",
    "userName": "bo.berg@example.com",
    "name": {"givenName": "Bo", "familyName": "Berg"},
    "displayName": "Bo Berg",
    "title": "Site reliability engineer",
    "active": True,
    "emails": [{"value": "bo.berg@example.com", "type": "work", "primary": True}],
    ENTERPRISE: {"department": "Platform", "manager": {"value": "ana"}},
}
USER: JsonDict = {
    "schemas": [CORE_USER, ENTERPRISE],
    "id": "00u1a2b3c4d5e6f7g8h9",
    "externalId": "00u1a2b3c4d5e6f7g8h9",
    "userName": "bo.berg@example.com",
    "name": {"givenName": "Bo", "familyName": "Berg"},
    "displayName": "Bo Berg",
    "title": "Site reliability engineer",
    "active": True,
    "emails": [{"value": "bo.berg@example.com", "type": "work", "primary": True}],
    ENTERPRISE: {
        "department": "Platform",
        "manager": {"value": "ana", "$ref": f"{BASE}/Users/ana"},
    },
    "meta": {
        "resourceType": "User",
        "created": "2026-11-30T14:53:36.205000Z",
        "lastModified": "2026-11-30T14:53:36.220000Z",
        "location": f"{BASE}/Users/00u1a2b3c4d5e6f7g8h9",
        "version": 'W/"1"',
    },
}
PATCH: JsonDict = {
    "schemas": [PATCH_SCHEMA],
    "Operations": [
        {"op": "replace", "path": "title", "value": "Staff site reliability engineer"},
        {"op": "replace", "value": {"active": False}},
    ],
}
SEARCH: JsonDict = {
    "schemas": [SEARCH_SCHEMA],
    "filter": 'userName eq "bo.berg@example.com"',
    "startIndex": 1,
    "count": 10,
}


def body(summary: str, value: Any) -> dict[str, Any]:
    """`openapi_examples` for a request body: one named example."""
    return {"default": {"summary": summary, "value": value}}


def answer(value: Any, description: str = "Successful Response") -> dict[str, Any]:
    """A route's `responses` entry: its SCIM body, with `value` as the example."""
    return {"description": description, "content": {"application/scim+json": {"example": value}}}


USERS = list_response([USER])
CONFIG = service_provider_config(BASE)
SCHEMAS = list_response(schemas(BASE))
ENTERPRISE_SCHEMA = next(s for s in schemas(BASE) if s["id"] == ENTERPRISE)
RESOURCE_TYPES = list_response(resource_types(BASE))
USER_TYPE = resource_types(BASE)[0]

# The admin routes that issue provisioning tokens (`admin_routes.py`).
CREDENTIAL_IN: JsonDict = {"name": "Okta provisioning"}
CREDENTIAL: JsonDict = {
    "id": "01a22cf2-7276-71c3-9ef6-7d94b6791bc1",
    "name": "Okta provisioning",
    "created_at": "2026-11-30T14:53:36.246000Z",
    "created_by": "ana",
    "revoked": False,
    "revoked_at": None,
}
ISSUED: JsonDict = {
    **CREDENTIAL,
    "token": "canteen_scim_L9xzu3HxQ-3rfzK5hh041ViYme8shasLeX_JUojwhkY",
}
CREDENTIALS: JsonDict = {"items": [CREDENTIAL]}

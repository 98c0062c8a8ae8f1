"""What the SCIM endpoint says about itself (RFC 7644 §4): its configuration, the User
schema as far as we keep it, the enterprise extension, and the one resource type.

The schemas are scim2-models' definitions, cut down to the attributes we store and give
back unchanged: a client reading them knows exactly what a round trip preserves.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from scim2_models import (
    Context,
    EnterpriseUser,
    Required,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    User,
)

from services.profiles.scim.mapping import CORE_USER, ENTERPRISE

MAX_RESULTS = 200
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_USER_ATTRIBUTES = {"userName", "name", "displayName", "title", "active", "emails"}
_ENTERPRISE_ATTRIBUTES = {"department", "manager"}
_SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
_RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
_CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


@cache
def _schemas() -> tuple[dict[str, Any], ...]:
    user = User.to_schema()
    user.attributes = [a for a in user.attributes or [] if a.name in _USER_ATTRIBUTES]
    enterprise = EnterpriseUser.to_schema()
    enterprise.attributes = [
        a for a in enterprise.attributes or [] if a.name in _ENTERPRISE_ATTRIBUTES
    ]
    for attribute in enterprise.attributes:
        if attribute.name == "manager":
            # We accept and return the manager's id; `$ref` is ours to compute.
            subs = [s for s in attribute.sub_attributes or [] if s.name in ("value", "$ref")]
            for sub in subs:
                sub.required = Required.false
            attribute.sub_attributes = subs
    described = (user, enterprise, Schema.to_schema(), ResourceType.to_schema())
    return tuple(
        s.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        for s in (*described, ServiceProviderConfig.to_schema())
    )


def schemas(base_url: str) -> list[dict[str, Any]]:
    return [
        {**s, "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{s['id']}"}}
        for s in _schemas()
    ]


def resource_types(base_url: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [_RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "People of the directory",
            "schema": CORE_USER,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/User"},
        }
    ]


def service_provider_config(base_url: str) -> dict[str, Any]:
    return {
        "schemas": [_CONFIG_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A provisioning token issued by a Canteen admin",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}/ServiceProviderConfig",
        },
    }


def list_response(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A ListResponse holding all of `resources` on one page (discovery lists are short)."""
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }

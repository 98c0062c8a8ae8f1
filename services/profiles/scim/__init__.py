"""SCIM 2.0 provisioning (RFC 7643/7644) for identity providers.

`/scim/v2/...` serves Users (a person with a provisioning link) and the discovery
endpoints, authenticated by provisioning tokens that admins issue at
`/api/v1/admin/scim-tokens`. Every write goes through the people use cases, so a SCIM
change publishes the same person events as an edit in the app.
"""

from __future__ import annotations

from services.profiles.context import Feature, ProfilesContext
from services.profiles.people import people_service
from services.profiles.scim.admin_routes import build_admin_router
from services.profiles.scim.credentials import SCIM_CREDENTIALS, Credentials
from services.profiles.scim.routes import build_scim_router
from services.profiles.scim.service import ScimUsers

__all__ = ["SCIM_CREDENTIALS", "install"]


def install(ctx: ProfilesContext) -> Feature:
    credentials = Credentials(ctx.store)
    users = ScimUsers(people_service(ctx))
    return Feature(
        routers=[build_admin_router(credentials), build_scim_router(users, credentials)],
        setup=[credentials.prepare],
    )

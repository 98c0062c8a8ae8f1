"""SCIM 2.0 provisioning (RFC 7643/7644) for identity providers."""

from __future__ import annotations

from services.profiles.context import Feature, ProfilesContext


def install(ctx: ProfilesContext) -> Feature:
    return Feature()

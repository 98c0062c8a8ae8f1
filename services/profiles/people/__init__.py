"""People directory: profiles, self and admin edits, deactivation, reports and manager chain."""

from __future__ import annotations

from services.profiles.context import Feature, ProfilesContext


def install(ctx: ProfilesContext) -> Feature:
    return Feature()

"""Skills taxonomy, declared skills with levels, endorsements."""

from __future__ import annotations

from services.profiles.context import Feature, ProfilesContext


def install(ctx: ProfilesContext) -> Feature:
    return Feature()

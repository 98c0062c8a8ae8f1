"""Expertise inferred from activity events, with evidence; experts, who-to-ask, suggestions."""

from __future__ import annotations

from services.profiles.context import Feature, ProfilesContext


def install(ctx: ProfilesContext) -> Feature:
    return Feature()

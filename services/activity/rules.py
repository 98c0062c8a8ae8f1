"""Rules every activity feature that attaches items to a post shares (pure, no I/O)."""

from __future__ import annotations

from typing import Any


class Invisible(LookupError):
    """Unknown, deleted, or not visible to the caller: all answer 404."""


class NotPermitted(PermissionError):
    """The caller may see the item but not change it (403)."""


class ChangedMeanwhile(RuntimeError):
    """A concurrent write won the compare-and-swap too many times (409)."""


# Compare-and-swap retries of one change before giving up with ChangedMeanwhile.
CAS_ATTEMPTS = 20


def placement(doc: dict[str, Any]) -> dict[str, Any]:
    """The audience an item copies from the question or post it belongs to."""
    return {
        "audience": doc.get("audience", "org"),
        "group_id": doc.get("group_id"),
        "group_visibility": doc.get("group_visibility"),
    }

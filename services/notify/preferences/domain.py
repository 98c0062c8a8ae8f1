"""Preference rules, pure: which channels a notification goes through, and when.

`decide(prefs, org_prefs, notification, now)` is the one decision every channel asks
(inbox, email, push). Inputs are the stored documents (shapes in docs/notify.md) as plain
mappings, or None when a user or the org has set nothing; `now` is an aware datetime.
Stored `channels` keys are types with '.' replaced by '_' (`pref_key`): the store forbids
dots in keys; the HTTP API speaks the dotted types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHANNELS = ("in_app", "email", "push")
DIGESTS = ("off", "daily", "weekly")
TYPES = (
    "answer.created",
    "answer.accepted",
    "comment.created",
    "comment.replied",
    "mention",
    "reaction",
    "follower",
    "group.invited",
    "group.join_requested",
    "group.approved",
    "question.expert_needed",
    "announcement",
)
CRITICAL_TYPES = frozenset({"announcement"})

# What applies when neither the user nor the org has said anything.
DEFAULT_CHANNELS: dict[str, dict[str, bool]] = {
    t: {"in_app": True, "email": t not in {"reaction", "follower"}, "push": t != "reaction"}
    for t in TYPES
}
DEFAULT_DIGEST = "daily"

EmailMode = Literal["now", "digest", "off"]
PushMode = Literal["now", "later", "off"]
Doc = Mapping[str, Any]


@dataclass(frozen=True)
class Delivery:
    in_app: bool
    email: EmailMode
    push: PushMode
    # When push == "later" (quiet hours): the UTC instant quiet hours end. Immediate email
    # that falls in quiet hours is not sent now either: it waits for `push_at` too.
    push_at: datetime | None = None
    email_at: datetime | None = None


def pref_key(type_: str) -> str:
    """A type as a stored `channels` key: the store forbids '.' in keys (`answer_created`)."""
    return type_.replace(".", "_")


def channel_enabled(prefs: Doc | None, org_prefs: Doc | None, type_: str, channel: str) -> bool:
    """The user's choice, else the org default, else the built-in default."""
    for doc in (prefs, org_prefs):
        channels = (doc or {}).get("channels") or {}
        value = (channels.get(pref_key(type_)) or channels.get(type_) or {}).get(channel)
        if isinstance(value, bool):
            return value
    return DEFAULT_CHANNELS.get(type_, {}).get(channel, True)


def digest_of(prefs: Doc | None, org_prefs: Doc | None) -> str:
    for doc in (prefs, org_prefs):
        value = (doc or {}).get("digest")
        if value in DIGESTS:
            return str(value)
    return DEFAULT_DIGEST


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def zone_of(prefs: Doc | None) -> ZoneInfo:
    name = (prefs or {}).get("time_zone") or "UTC"
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(prefs: Doc | None, now: datetime) -> datetime | None:
    """The UTC instant the user's quiet hours end, if `now` falls inside them; else None.

    Hours are wall-clock times in the user's zone, so a DST change moves the UTC instant
    (quiet 22:00-07:00 in Europe/Paris ends at 06:00 UTC in winter, 05:00 UTC in summer).
    """
    quiet = (prefs or {}).get("quiet_hours")
    if not quiet or not quiet.get("start") or not quiet.get("end"):
        return None
    start, end = parse_hhmm(quiet["start"]), parse_hhmm(quiet["end"])
    if start == end:
        return None
    zone = zone_of(prefs)
    local = now.astimezone(zone)
    wall = local.time().replace(tzinfo=None, second=0, microsecond=0)
    if start < end:
        inside = start <= wall < end
        end_day = local.date()
    else:  # spans midnight
        inside = wall >= start or wall < end
        end_day = local.date() + timedelta(days=1) if wall >= start else local.date()
    if not inside:
        return None
    # A wall time that does not exist (spring forward) normalises forward through UTC.
    ends = datetime.combine(end_day, end, tzinfo=zone)
    return ends.astimezone(UTC).astimezone(zone).astimezone(UTC)


def is_muted(prefs: Doc | None, notification: Doc) -> bool:
    muted_groups = (prefs or {}).get("muted_groups") or []
    muted_posts = (prefs or {}).get("muted_posts") or []
    group_id = notification.get("audience_group_id")
    if group_id and group_id in muted_groups:
        return True
    target = notification.get("target") or {}
    post_id = notification.get("post_id") or (
        target.get("id") if target.get("type") == "post" else None
    )
    return bool(post_id and post_id in muted_posts)


def is_critical(notification: Doc) -> bool:
    """Critical notifications reach their recipient whatever the preferences say."""
    return bool(notification.get("critical")) or notification.get("type") in CRITICAL_TYPES


def decide(prefs: Doc | None, org_prefs: Doc | None, notification: Doc, now: datetime) -> Delivery:
    """Which channels carry `notification` for its recipient, given their preferences.

    Critical notifications (or critical types) bypass preferences, mutes, quiet hours and
    digests. A muted group or post silences every channel. Email goes out now when the
    type's email channel is on; otherwise it waits for the digest unless the digest is off.
    """
    type_ = str(notification.get("type", ""))
    if is_critical(notification):
        return Delivery(in_app=True, email="now", push="now")
    if is_muted(prefs, notification):
        return Delivery(in_app=False, email="off", push="off")
    in_app = channel_enabled(prefs, org_prefs, type_, "in_app")
    email: EmailMode
    if channel_enabled(prefs, org_prefs, type_, "email"):
        email = "now"
    elif digest_of(prefs, org_prefs) != "off":
        email = "digest"
    else:
        email = "off"
    push: PushMode = "now" if channel_enabled(prefs, org_prefs, type_, "push") else "off"
    until = quiet_until(prefs, now)
    push_at = email_at = None
    if until is not None:
        if push == "now":
            push, push_at = "later", until
        if email == "now":
            email_at = until
    return Delivery(in_app=in_app, email=email, push=push, push_at=push_at, email_at=email_at)


def address_of(prefs: Mapping[str, Any] | None) -> str | None:
    """Where a person's notification mail goes: the address they chose in their
    preferences, else the work email the directory gives (`directory_email`, from the
    identity provider through profiles); None when neither is known."""
    prefs = prefs or {}
    return prefs.get("email_address") or prefs.get("directory_email") or None

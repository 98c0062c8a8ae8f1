"""`decide`: channels per type, org defaults, mutes, digests, quiet hours across time zones
and DST changes, and the critical bypass (pure-function tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notify.preferences.domain import Delivery, decide, quiet_until

MENTION = {"type": "mention", "audience_group_id": "g1", "post_id": "p1"}
ANNOUNCEMENT = {"type": "announcement", "critical": True, "audience_group_id": "g1"}
QUIET = {"start": "22:00", "end": "07:00"}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_defaults_send_everywhere_now() -> None:
    assert decide(None, None, MENTION, at(2026, 3, 2, 12)) == Delivery(True, "now", "now")


def test_user_choice_overrides_org_default_which_overrides_built_in() -> None:
    org = {"channels": {"mention": {"email": False, "push": False}}, "digest": "weekly"}
    assert decide(None, org, MENTION, at(2026, 3, 2, 12)) == Delivery(True, "digest", "off")
    mine = {"channels": {"mention": {"push": True}}, "digest": "off"}
    assert decide(mine, org, MENTION, at(2026, 3, 2, 12)) == Delivery(True, "off", "now")
    off = {"channels": {"mention": {"in_app": False}}}
    assert decide(off, None, MENTION, at(2026, 3, 2, 12)).in_app is False


def test_muted_group_or_post_silences_every_channel() -> None:
    silent = Delivery(False, "off", "off")
    assert decide({"muted_groups": ["g1"]}, None, MENTION, at(2026, 3, 2, 12)) == silent
    assert decide({"muted_posts": ["p1"]}, None, MENTION, at(2026, 3, 2, 12)) == silent
    assert decide({"muted_posts": ["p2"]}, None, MENTION, at(2026, 3, 2, 12)).in_app


def test_critical_bypasses_channels_mutes_quiet_hours_and_digest() -> None:
    prefs = {
        "channels": {"announcement": {"in_app": False, "email": False, "push": False}},
        "muted_groups": ["g1"],
        "digest": "off",
        "quiet_hours": QUIET,
        "time_zone": "Europe/Paris",
    }
    assert decide(prefs, None, ANNOUNCEMENT, at(2026, 1, 10, 23)) == Delivery(True, "now", "now")


@pytest.mark.parametrize(
    ("zone", "now", "until"),
    [
        # Paris in winter (UTC+1): 23:00 UTC is midnight local; quiet ends 07:00 = 06:00 UTC
        ("Europe/Paris", at(2026, 1, 10, 23), at(2026, 1, 11, 6)),
        # Paris in summer (UTC+2): ends 05:00 UTC
        ("Europe/Paris", at(2026, 7, 10, 23), at(2026, 7, 11, 5)),
        # Night of the spring-forward change (29 March 2026): 23:30 UTC on the 28th is
        # 00:30 CET; quiet ends 07:00 CEST = 05:00 UTC
        ("Europe/Paris", at(2026, 3, 28, 23, 30), at(2026, 3, 29, 5)),
        # Fall-back night (25 October 2026): 07:00 CET = 06:00 UTC
        ("Europe/Paris", at(2026, 10, 24, 23), at(2026, 10, 25, 6)),
        # New York, same UTC instant as Paris' midnight is 18:00 local: not quiet
        ("America/New_York", at(2026, 1, 10, 23), None),
        # New York at 02:00 local (07:00 UTC in winter): ends 07:00 EST = 12:00 UTC
        ("America/New_York", at(2026, 1, 11, 7), at(2026, 1, 11, 12)),
        # US DST starts 8 March 2026: 01:00 EST (06:00 UTC) -> ends 07:00 EDT = 11:00 UTC
        ("America/New_York", at(2026, 3, 8, 6), at(2026, 3, 8, 11)),
        # Before 22:00 local is not quiet; at 22:00 it is
        ("Asia/Tokyo", at(2026, 6, 1, 12, 59), None),
        ("Asia/Tokyo", at(2026, 6, 1, 13), at(2026, 6, 1, 22)),
    ],
)
def test_quiet_hours_in_the_users_zone(zone: str, now: datetime, until: datetime | None) -> None:
    prefs = {"quiet_hours": QUIET, "time_zone": zone}
    assert quiet_until(prefs, now) == until
    delivery = decide(prefs, None, MENTION, now)
    if until is None:
        assert (delivery.push, delivery.push_at, delivery.email_at) == ("now", None, None)
    else:
        assert (delivery.push, delivery.push_at, delivery.email_at) == ("later", until, until)
        assert delivery.email == "now" and delivery.in_app


def test_daytime_quiet_hours_and_empty_window() -> None:
    prefs = {"quiet_hours": {"start": "12:00", "end": "14:00"}, "time_zone": "UTC"}
    assert quiet_until(prefs, at(2026, 6, 1, 13)) == at(2026, 6, 1, 14)
    assert quiet_until(prefs, at(2026, 6, 1, 14)) is None
    same = {"quiet_hours": {"start": "12:00", "end": "12:00"}, "time_zone": "UTC"}
    assert quiet_until(same, at(2026, 6, 1, 12)) is None


def test_digest_when_email_is_off_and_off_when_digest_is_off() -> None:
    no_email = {"channels": {"reaction": {"email": False}}}
    reaction = {"type": "reaction"}
    assert decide(no_email, None, reaction, at(2026, 6, 1, 12)).email == "digest"
    assert decide({**no_email, "digest": "off"}, None, reaction, at(2026, 6, 1, 12)).email == "off"

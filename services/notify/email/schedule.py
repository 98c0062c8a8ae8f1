"""When a digest is due (pure): the configured local hour in each person's time zone.

A period key names each digest (`daily:2030-01-07`, `weekly:2030-W02`), so a digest is
queued once per period however often the scheduler ticks, and one missed while the service
was down is still sent later that day. Weekly digests go out on Mondays.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PERIOD_LENGTH = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


def due_period(frequency: str, now: datetime, zone: ZoneInfo, hour: int) -> str | None:
    """The period whose digest is due at `now` (aware), or None (not yet, or digests off)."""
    if frequency not in PERIOD_LENGTH:
        return None
    local = now.astimezone(zone)
    if local.hour < hour or (frequency == "weekly" and local.weekday() != 0):
        return None
    return current_period(frequency, now, zone)


def current_period(frequency: str, now: datetime, zone: ZoneInfo) -> str | None:
    """The period `now` falls in, due or not (an admin sending a digest early), or None
    (digests off)."""
    if frequency not in PERIOD_LENGTH:
        return None
    local = now.astimezone(zone)
    if frequency == "daily":
        return f"daily:{local.date().isoformat()}"
    year, week, _ = local.isocalendar()
    return f"weekly:{year}-W{week:02d}"

"""OpenAPI examples of the notification preferences routes."""

from pydantic.config import JsonDict

from services.notify.preferences.domain import CHANNELS, DEFAULT_CHANNELS

ORG_IN: JsonDict = {
    "channels": {"reaction": {"in_app": True, "email": False, "push": False}},
    "digest": "weekly",
}
MINE_IN: JsonDict = {
    "channels": {
        "answer.created": {"email": True, "push": True},
        "reaction": {"push": False},
    },
    "digest": "daily",
    "muted_groups": ["01a22cf2-6faf-71e0-a014-f52a10c07559"],
    "muted_posts": [],
    "quiet_hours": {"start": "22:00", "end": "07:30"},
    "time_zone": "Europe/Lisbon",
    "email_address": "ana.lima@example.com",
}
ORG: JsonDict = {
    "channels": {"reaction": {"in_app": True, "email": False, "push": False}},
    "digest": "weekly",
}
MINE: JsonDict = {
    **MINE_IN,
    "channels": {"answer.created": {"email": True, "push": True}},
    "directory_email": "ana.lima@corp.example",
}
MINE_WITH_DEFAULTS: JsonDict = {
    **MINE,
    "org_defaults": ORG,
    "defaults": {
        "channels": {t: dict(switches) for t, switches in DEFAULT_CHANNELS.items()},
        "channel_names": list(CHANNELS),
    },
}
SWITCHES: JsonDict = {"in_app": True, "email": False, "push": True}
QUIET_HOURS: JsonDict = {"start": "22:00", "end": "07:30"}


def answer(value: object) -> dict[str, object]:
    return {"content": {"application/json": {"example": value}}}

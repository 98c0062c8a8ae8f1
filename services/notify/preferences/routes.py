"""Preferences' HTTP routes: a person's choices, and the org defaults admins set.

No `from __future__ import annotations`: FastAPI resolves the models at definition time.
"""

from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from fastapi import APIRouter, Header, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from services.notify.preferences import examples
from services.notify.preferences.domain import (
    CHANNELS,
    CRITICAL_TYPES,
    DEFAULT_CHANNELS,
    TYPES,
    pref_key,
)
from services.notify.preferences.repository import (
    DIRECTORY_EMAIL,
    PreferenceRepository,
    revision_of,
)
from shared.http import AdminDep, PreconditionFailed, PrincipalDep

Id = Annotated[str, Field(min_length=1, max_length=200)]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
MAX_MUTES = 500


class ChannelSwitches(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.SWITCHES]})

    in_app: bool | None = None
    email: bool | None = None
    push: bool | None = None


class QuietHours(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.QUIET_HOURS]}
    )

    start: HHMM
    end: HHMM


def _known_types(value: dict[str, ChannelSwitches]) -> dict[str, ChannelSwitches]:
    unknown = sorted(set(value) - set(TYPES))
    if unknown:
        raise ValueError(f"unknown notification types: {', '.join(unknown)}")
    # Saying "off" for a type nothing can silence would be stored and then ignored: the
    # person (or admin) would believe something that is not so.
    refused = sorted(
        t for t in set(value) & CRITICAL_TYPES if False in value[t].model_dump().values()
    )
    if refused:
        raise ValueError(
            f"{', '.join(refused)} always reach every channel and cannot be turned off"
        )
    return value


class OrgPreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.ORG_IN]})

    channels: dict[str, ChannelSwitches] = Field(default_factory=dict, max_length=len(TYPES))
    digest: Literal["off", "daily", "weekly"] | None = None

    _types = field_validator("channels")(_known_types)


class PreferencesIn(OrgPreferencesIn):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.MINE_IN]})

    muted_groups: list[Id] = Field(default_factory=list, max_length=MAX_MUTES)
    muted_posts: list[Id] = Field(default_factory=list, max_length=MAX_MUTES)
    quiet_hours: QuietHours | None = None
    time_zone: str = Field("UTC", max_length=64, description="IANA time zone")
    email_address: EmailStr | None = None

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, value: str) -> str:
        if value != "UTC" and value not in _zones():
            raise ValueError("unknown IANA time zone")
        return value


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def _to_store(body: OrgPreferencesIn) -> dict[str, Any]:
    doc = body.model_dump(mode="json", exclude={"channels"})
    doc["channels"] = {
        pref_key(t): {c: v for c, v in switches.model_dump().items() if v is not None}
        for t, switches in body.channels.items()
    }
    return doc


def _to_api(doc: dict[str, Any] | None, *, org: bool) -> dict[str, Any]:
    doc = dict(doc or {})
    stored = doc.get("channels") or {}
    channels = {t: dict(stored[pref_key(t)]) for t in TYPES if stored.get(pref_key(t))}
    # Saved before "off" was refused for critical types: shown as what applies (on), so
    # a client that saves back what it read is not refused.
    for t in CRITICAL_TYPES & set(channels):
        channels[t] = {c: v for c, v in channels[t].items() if v is not False}
        if not channels[t]:
            del channels[t]
    out: dict[str, Any] = {"channels": channels, "digest": doc.get("digest")}
    if not org:
        out.update(
            muted_groups=doc.get("muted_groups", []),
            muted_posts=doc.get("muted_posts", []),
            quiet_hours=doc.get("quiet_hours"),
            time_zone=doc.get("time_zone", "UTC"),
            email_address=doc.get("email_address"),
            # Read-only: the directory's work email, used when `email_address` is unset.
            directory_email=doc.get(DIRECTORY_EMAIL),
        )
    return out


def _etag(revision: int) -> str:
    return f'W/"prefs-{revision}"'


def _revision_in(if_match: str) -> int:
    """The revision an `If-Match` names; one we never gave out fails the precondition."""
    tag = if_match.strip().removeprefix("W/").strip('"')
    number = tag.removeprefix("prefs-")
    if tag == number or not number.isdigit():
        raise PreconditionFailed(f"If-Match {if_match!r} is not an ETag of these preferences")
    return int(number)


def build_router(repo: PreferenceRepository, route_class: type[APIRoute]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["notification-preferences"], route_class=route_class)

    @router.get(
        "/notification-preferences", responses={200: examples.answer(examples.MINE_WITH_DEFAULTS)}
    )
    async def get_preferences(principal: PrincipalDep, response: Response) -> dict[str, Any]:
        """Your notification preferences, with the org defaults and built-in defaults.

        The `ETag` goes back in `If-Match` when saving, so a save never undoes a change made
        since (another device, a one-click unsubscribe)."""
        stored = await repo.get(principal.user_id)
        response.headers["ETag"] = _etag(revision_of(stored))
        mine = _to_api(stored, org=False)
        mine["org_defaults"] = _to_api(await repo.org(), org=True)
        mine["defaults"] = {"channels": DEFAULT_CHANNELS, "channel_names": list(CHANNELS)}
        return mine

    @router.put("/notification-preferences", responses={200: examples.answer(examples.MINE)})
    async def put_preferences(
        body: PreferencesIn,
        principal: PrincipalDep,
        response: Response,
        if_match: Annotated[str | None, Header(max_length=100)] = None,
    ) -> dict[str, Any]:
        """Replace your notification preferences (unset channels follow the org defaults).

        With `If-Match` (the `ETag` of your last read): 412 if they changed since."""
        any_version = if_match is None or if_match.strip() == "*"
        expected = None if any_version else _revision_in(if_match or "")
        saved = await repo.put(principal.user_id, _to_store(body), expected_revision=expected)
        if saved is None:
            raise PreconditionFailed(
                "your notification preferences changed since you read them; read them again"
            )
        response.headers["ETag"] = _etag(revision_of(saved))
        return _to_api(saved, org=False)

    @router.get("/notification-preferences/org", responses={200: examples.answer(examples.ORG)})
    async def get_org_preferences(principal: PrincipalDep) -> dict[str, Any]:
        """The organisation's default notification preferences."""
        return _to_api(await repo.org(), org=True)

    @router.put("/notification-preferences/org", responses={200: examples.answer(examples.ORG)})
    async def put_org_preferences(body: OrgPreferencesIn, admin: AdminDep) -> dict[str, Any]:
        """Replace the organisation's defaults (admins); people's own choices override them."""
        return _to_api(await repo.put_org(_to_store(body)), org=True)

    return router

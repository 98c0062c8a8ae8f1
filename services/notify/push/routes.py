"""Devices: register, list and revoke a person's push subscriptions; the VAPID key.

No `from __future__ import annotations`: FastAPI resolves the aliases at definition time.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from services.notify.push import examples
from services.notify.push.repository import MAX_DEVICES, DeviceRepository, device_id
from services.notify.push.subscriptions import InvalidSubscription, check
from shared.http import Conflict, NotFound, PrincipalDep, Unprocessable, problem_type


class KeysIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.DEVICE_IN["keys"]]}
    )

    p256dh: str = Field(min_length=80, max_length=100)
    auth: str = Field(min_length=16, max_length=32)


class DeviceIn(BaseModel):
    """A browser's PushSubscription (`subscription.toJSON()`), plus an optional label."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.DEVICE_IN]})

    endpoint: str = Field(min_length=10, max_length=2048)
    keys: KeysIn
    expirationTime: int | None = None
    user_agent: str | None = Field(None, max_length=300)


class DeviceOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DEVICE]})

    id: str
    endpoint: str
    user_agent: str | None
    created_at: datetime
    last_success_at: datetime | None = None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "DeviceOut":
        return cls.model_validate({**doc, "id": doc["_id"]})


class VapidKeyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.VAPID_KEY]})

    public_key: str = Field(description="applicationServerKey for PushManager.subscribe")


def build_router(
    devices: DeviceRepository,
    public_key: str | None,
    *,
    allow_loopback_http: bool,
    route_class: type[APIRoute] = APIRoute,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["devices"], route_class=route_class)

    def get_devices() -> DeviceRepository:
        return devices

    Devices = Annotated[DeviceRepository, Depends(get_devices)]

    @router.get("/devices/vapid-public-key", response_model=VapidKeyOut)
    async def vapid_key(principal: PrincipalDep) -> VapidKeyOut:
        """The application server key browsers subscribe with."""
        if public_key is None:
            raise NotFound("push is not configured on this server")
        return VapidKeyOut(public_key=public_key)

    @router.post("/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceOut)
    async def register(body: DeviceIn, principal: PrincipalDep, repo: Devices) -> DeviceOut:
        """Register this browser or PWA for push notifications."""
        try:
            check(
                body.endpoint,
                body.keys.p256dh,
                body.keys.auth,
                allow_loopback_http=allow_loopback_http,
            )
        except InvalidSubscription as exc:
            raise Unprocessable(str(exc), type=problem_type("invalid-subscription")) from exc
        id_ = device_id(body.endpoint)
        existing = [d for d in await repo.mine(principal.user_id) if d["_id"] != id_]
        if len(existing) >= MAX_DEVICES:
            raise Conflict(f"at most {MAX_DEVICES} devices; revoke one first")
        doc = {
            "_id": id_,
            "user_id": principal.user_id,
            "endpoint": body.endpoint,
            "keys": body.keys.model_dump(),
            "user_agent": body.user_agent,
            "created_at": datetime.now(UTC),
            "last_success_at": None,
        }
        registered = await repo.register(doc)
        if not await repo.within_limit(principal.user_id):
            await repo.revoke(principal.user_id, id_)
            raise Conflict(f"at most {MAX_DEVICES} devices; revoke one first")
        return DeviceOut.of(registered)

    @router.get("/devices", response_model=list[DeviceOut])
    async def mine(principal: PrincipalDep, repo: Devices) -> list[DeviceOut]:
        """Your registered devices."""
        return [DeviceOut.of(d) for d in await repo.mine(principal.user_id)]

    @router.delete("/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def revoke(device_id: str, principal: PrincipalDep, repo: Devices) -> None:
        """Revoke one of your devices (it gets no more pushes)."""
        if not await repo.revoke(principal.user_id, device_id):
            raise NotFound(f"device {device_id} not found")

    return router

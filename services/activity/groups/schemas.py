"""Request and response models of the group routes."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from services.activity.groups import examples
from services.activity.groups.domain import JoinPolicy, Role, Visibility

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
GroupId = Annotated[str, Path(min_length=1, max_length=64, examples=[examples.GROUP_ID])]
UserId = Annotated[str, Path(min_length=1, max_length=128, examples=["bo"])]
Slug = Annotated[str, Path(min_length=1, max_length=64, examples=["platform-guild"])]


class GroupIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [examples.GROUP_IN, examples.PRIVATE_GROUP_IN]},
    )

    name: str = Field(min_length=1, max_length=100)
    slug: str = Field(min_length=1, max_length=64, pattern=SLUG_PATTERN)
    description: str = Field("", max_length=2000)
    visibility: Visibility = "public"
    join_policy: JoinPolicy = "open"


class GroupPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.GROUP_PATCH]}
    )

    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    visibility: Visibility | None = None
    join_policy: JoinPolicy | None = None


class InvitationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.INVITATION_IN]}
    )

    user_id: str = Field(min_length=1, max_length=128)


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.ROLE_IN]})

    role: Role


class GroupOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.GROUP]})

    id: str
    slug: str
    name: str
    description: str
    visibility: Visibility
    join_policy: JoinPolicy
    owner_id: str
    member_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "GroupOut":
        return cls.model_validate({**doc, "id": doc["_id"]})


class MembershipOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.MEMBERSHIP]})

    group_id: str
    user_id: str
    state: str = Field(description="active | requested | invited | none")
    role: Role | None
    joined_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "MembershipOut":
        return cls.model_validate(doc)

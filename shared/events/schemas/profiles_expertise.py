"""Profiles events about what people know: declared skills, endorsements, inferred expertise.

Published on `canteen.profiles` beside the person events. Search indexes expertise from
`expertise.changed` (and drops a topic the person hid: `hidden` is true); notify may tell a
person about an endorsement.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.registry import registry
from shared.events.schemas.profiles import ProfilesEvent

Id = Field(min_length=1, max_length=200)
Skill = Field(min_length=1, max_length=64, description="canonical skill slug (a topic)")


@registry.register
class SkillDeclared(ProfilesEvent):
    """A person declared a skill (or changed its level)."""

    event_type: ClassVar[str] = "canteen.profiles.skill.declared.v1"

    id: str = Field(min_length=1, max_length=300, description="<person_id>:<skill_id>")
    person_id: str = Id
    skill_id: str = Skill
    level: int = Field(ge=1, le=5)
    declared_at: datetime


@registry.register
class SkillRemoved(ProfilesEvent):
    """A person removed a declared skill."""

    event_type: ClassVar[str] = "canteen.profiles.skill.removed.v1"

    id: str = Field(min_length=1, max_length=300, description="<person_id>:<skill_id>")
    person_id: str = Id
    skill_id: str = Skill
    removed_at: datetime


class _Endorsement(ProfilesEvent):
    id: str = Field(
        min_length=1, max_length=600, description="<endorser_id>:<person_id>:<skill_id>"
    )
    endorser_id: str = Id
    person_id: str = Id
    skill_id: str = Skill
    revision: int = Field(ge=1, description="grows with every change of this endorsement")
    at: datetime


@registry.register
class EndorsementAdded(_Endorsement):
    """`endorser_id` vouched for `person_id`'s skill."""

    event_type: ClassVar[str] = "canteen.profiles.endorsement.added.v1"


@registry.register
class EndorsementWithdrawn(_Endorsement):
    """`endorser_id` withdrew an endorsement."""

    event_type: ClassVar[str] = "canteen.profiles.endorsement.withdrawn.v1"


@registry.register
class ExpertiseChanged(ProfilesEvent):
    """A person's inferred expertise in a topic moved past the publishing threshold.

    `score` is the decayed score at `at`; `score_ref` is the epoch-referenced score that ranks
    the same way forever (see docs/profiles.md). A hidden topic is published with `hidden`
    true and a consumer must drop it from anything public.
    """

    event_type: ClassVar[str] = "canteen.profiles.expertise.changed.v1"

    id: str = Field(min_length=1, max_length=300, description="<person_id>:<topic>")
    person_id: str = Id
    topic_id: str = Field(min_length=1, max_length=64, description="the normalized topic")
    score: float = Field(ge=0)
    score_ref: float = Field(ge=0)
    hidden: bool = False
    at: datetime

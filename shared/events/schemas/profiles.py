"""Events the profiles service publishes on the `canteen.profiles` topic.

The activity service keeps a local directory of people from them (@mentions, author
display); search indexes people from them; notify takes each person's work email. The key
is the person id, so one person's events stay in order.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.events.envelope import EventData
from shared.events.registry import registry

TOPIC = "canteen.profiles"
SOURCE = "/canteen/profiles"


class ProfilesEvent(EventData):
    topic: ClassVar[str] = TOPIC
    source: ClassVar[str] = SOURCE


class PersonSnapshot(ProfilesEvent):
    """The public face of a person, as of the event."""

    id: str = Field(min_length=1, max_length=200)
    handle: str = Field(min_length=1, max_length=64, description="unique, used in @mentions")
    display_name: str = Field(min_length=1, max_length=200)
    title: str | None = Field(None, max_length=200, description="job title")
    department: str | None = Field(None, max_length=200)
    avatar_url: str | None = Field(None, max_length=2048)
    active: bool = True
    location: str | None = Field(None, max_length=200)
    manager_id: str | None = Field(None, max_length=200, description="the manager's person id")
    email: str | None = Field(
        None,
        max_length=320,
        description=(
            "work email from the directory (the identity provider's primary address, checked "
            "for syntax); where notification email goes unless the person chose another. "
            "Consumers that show people keep it out of what they show"
        ),
    )


@registry.register
class PersonCreated(PersonSnapshot):
    """A person joined the directory."""

    event_type: ClassVar[str] = "canteen.profiles.person.created.v1"


@registry.register
class PersonUpdated(PersonSnapshot):
    """A person's profile changed (the whole public snapshot, not a diff)."""

    event_type: ClassVar[str] = "canteen.profiles.person.updated.v1"


@registry.register
class PersonDeactivated(ProfilesEvent):
    """A person left: keep what they wrote, stop offering them for mentions."""

    event_type: ClassVar[str] = "canteen.profiles.person.deactivated.v1"

    id: str = Field(min_length=1, max_length=200)


@registry.register
class PersonReactivated(PersonSnapshot):
    """A deactivated person is back (the whole public snapshot, `active` true).

    Published together with a `person.updated` carrying the same snapshot, so a consumer
    that only handles created/updated/deactivated still sees them active again.
    """

    event_type: ClassVar[str] = "canteen.profiles.person.reactivated.v1"

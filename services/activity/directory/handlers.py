"""The directory's consumer: profiles' person events into the `people` collection."""

from __future__ import annotations

import structlog

from services.activity.directory.repository import Directory
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.profiles import PersonCreated, PersonDeactivated, PersonUpdated

log = structlog.get_logger()


def build_dispatcher(directory: Directory) -> EventDispatcher:
    dispatcher = EventDispatcher(registry)

    async def upsert(event: Event, data: PersonCreated | PersonUpdated) -> None:
        # The work email is for notify's mail: the directory shows people, not addresses.
        fields = data.model_dump(exclude={"id", "email"})
        fields["handle"] = data.handle.lower()
        applied = await directory.apply(data.id, fields, at=event.time)
        log.info("activity.directory.person_applied", person_id=data.id, applied=applied)

    @dispatcher.on(PersonCreated)
    async def on_created(event: Event, data: PersonCreated) -> None:
        """A new person: add them to the directory."""
        await upsert(event, data)

    @dispatcher.on(PersonUpdated)
    async def on_updated(event: Event, data: PersonUpdated) -> None:
        """A changed profile: replace the person's public snapshot."""
        await upsert(event, data)

    @dispatcher.on(PersonDeactivated)
    async def on_deactivated(event: Event, data: PersonDeactivated) -> None:
        """A person left: keep their name on what they wrote, drop them from mentions."""
        applied = await directory.apply(data.id, {"active": False}, at=event.time)
        log.info("activity.directory.person_deactivated", person_id=data.id, applied=applied)

    return dispatcher

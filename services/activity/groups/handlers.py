"""The groups consumer (`activity.groups`): exact member counts, and repairs after a crash.

`member_count` lives on the group while membership changes are written to membership
documents, so it is kept by this consumer: each `membership.changed` adds
(active after) - (active before), in one update conditional on the event id not being in
the group's capped `_applied` list (safe under redelivery). The creator is counted at
creation. Group events re-run the idempotent follow-ups of their write (the owner's
membership, the items' copy of the visibility) in case the writer died before them.
"""

from __future__ import annotations

import structlog

from services.activity.groups import domain
from services.activity.groups.repository import GroupRepository
from shared.events.dispatch import EventDispatcher
from shared.events.envelope import Event
from shared.events.registry import registry
from shared.events.schemas.activity.social import (
    GroupCreated,
    GroupDeleted,
    GroupUpdated,
    MembershipChanged,
)

log = structlog.get_logger()


def build_dispatcher(repo: GroupRepository) -> EventDispatcher:
    dispatcher = EventDispatcher(registry)

    @dispatcher.on(MembershipChanged)
    async def count(event: Event, data: MembershipChanged) -> None:
        """Keep the group's member count exact."""
        delta = domain.member_delta(data.previous_state, data.state)
        if delta and not await repo.apply_member_delta(data.group_id, delta, event.id):
            log.info("activity.group.count_skipped", event_id=event.id, group_id=data.group_id)

    @dispatcher.on(GroupCreated)
    async def owner(event: Event, data: GroupCreated) -> None:
        """Make sure the creator's owner membership exists."""
        doc = domain.membership_doc(data.id, data.owner_id, now=data.created_at)
        doc.update(state="active", role="owner", joined_at=data.created_at)
        await repo.ensure_owner(doc)

    async def visibility(group_id: str) -> None:
        await repo.settle_visibility(group_id)

    @dispatcher.on(GroupUpdated)
    async def updated(event: Event, data: GroupUpdated) -> None:
        """Make sure the group's items carry its current visibility."""
        if data.visibility != data.previous_visibility:
            await visibility(data.id)

    @dispatcher.on(GroupDeleted)
    async def deleted(event: Event, data: GroupDeleted) -> None:
        """Make sure the deleted group's items read as private."""
        await visibility(data.id)

    return dispatcher

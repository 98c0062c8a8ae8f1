"""Events the notify service consumes (consumer group `notify`).

Handlers are registered on the dispatcher by event model; types without a handler are
acknowledged and skipped, unknown or invalid events are dead-lettered by the bus.
"""

from __future__ import annotations

from shared.events import registry
from shared.events.dispatch import EventDispatcher


def build_dispatcher() -> EventDispatcher:
    dispatcher = EventDispatcher(registry)
    return dispatcher

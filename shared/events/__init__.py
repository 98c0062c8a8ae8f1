"""Event contracts: the CloudEvents envelope, the type registry and the Kafka binding."""

from shared.events.codec import MalformedMessage, Message, decode, encode
from shared.events.envelope import Event, EventData, new_event
from shared.events.registry import EventRegistry, InvalidEvent, UnknownEventType, registry

__all__ = [
    "Event",
    "EventData",
    "EventRegistry",
    "InvalidEvent",
    "MalformedMessage",
    "Message",
    "UnknownEventType",
    "decode",
    "encode",
    "new_event",
    "registry",
]

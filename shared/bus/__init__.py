"""The event bus port and its adapters (Kafka, embedded SQLite)."""

from shared.bus.kafka import KafkaEventBus
from shared.bus.metrics import BusMetrics
from shared.bus.port import (
    BatchHandler,
    Consumer,
    EventBus,
    Handler,
    PoisonEvent,
    RetryPolicy,
    dlq_topic,
)
from shared.bus.sqlite import SqliteEventBus

__all__ = [
    "BatchHandler",
    "BusMetrics",
    "Consumer",
    "EventBus",
    "Handler",
    "KafkaEventBus",
    "PoisonEvent",
    "RetryPolicy",
    "SqliteEventBus",
    "dlq_topic",
]

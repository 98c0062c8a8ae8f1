"""Build the adapters a service uses from settings: embedded (SQLite) or external engines.

Constructors do no I/O; connections open in `start()` inside the service lifespan.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.bus.metrics import BusMetrics
from shared.bus.namespaced import NamespacedEventBus
from shared.bus.port import EventBus, RetryPolicy
from shared.events.registry import registry
from shared.outbox.watch import WatchedStore
from shared.service import Background, ServiceRuntime, Setup, Subscription
from shared.settings import CanteenSettings
from shared.store.port import DocumentStore


def make_store(settings: CanteenSettings, service: str) -> DocumentStore:
    """The service's own document store: one SQLite file or one MongoDB database each,
    watched for the outbox relay (`shared/outbox/watch.py`)."""
    return WatchedStore(_make_store(settings, service))


def _make_store(settings: CanteenSettings, service: str) -> DocumentStore:
    if settings.backend == "embedded":
        from shared.store.sqlite import SqliteDocumentStore

        return SqliteDocumentStore(settings.data_dir / f"{service}.sqlite3")
    from shared.store.mongo import MongoDocumentStore

    return MongoDocumentStore(
        settings.mongodb_uri.get_secret_value(),
        settings.mongodb_database(service),
        appname=f"canteen-{service}",
    )


def make_bus(
    settings: CanteenSettings,
    client_id: str,
    topics: Sequence[str],
    metrics: BusMetrics | None = None,
) -> EventBus:
    """The event bus: a SQLite log shared by every process on this machine, or Kafka."""
    namespace = settings.bus_namespace
    if namespace:
        # The inner bus creates the physical (prefixed) topics at start-up.
        physical = [f"{namespace}.{t}" for t in topics]
        return NamespacedEventBus(_make_bus(settings, client_id, physical, metrics), namespace)
    return _make_bus(settings, client_id, topics, metrics)


def _make_bus(
    settings: CanteenSettings,
    client_id: str,
    topics: Sequence[str],
    metrics: BusMetrics | None,
) -> EventBus:
    if settings.backend == "embedded":
        from shared.bus.sqlite import Retention, SqliteEventBus

        return SqliteEventBus(
            str(settings.data_dir / "events.sqlite3"),
            partitions=settings.bus_partitions,
            topics=topics,
            metrics=metrics,
            retention=Retention(
                seconds=settings.bus_retention_hours * 3600,
                dlq_seconds=settings.bus_dlq_retention_hours * 3600,
            ),
        )
    from shared.bus.kafka import KafkaEventBus

    password = settings.kafka_sasl_password
    return KafkaEventBus(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        partitions=settings.bus_partitions,
        topics=topics,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_plain_username=settings.kafka_sasl_username,
        sasl_plain_password=password.get_secret_value() if password else None,
        ssl_cafile=str(settings.kafka_ca_file) if settings.kafka_ca_file else None,
        metrics=metrics,
    )


def build_runtime(
    settings: CanteenSettings,
    name: str,
    bus_metrics: BusMetrics,
    *,
    topics: Sequence[str],
    outbox_collections: Sequence[str] = (),
    subscriptions: Sequence[Subscription] = (),
    setup: Sequence[Setup] = (),
    background: Sequence[Background] = (),
    store: DocumentStore | None = None,
) -> ServiceRuntime:
    """A service's runtime on the configured backend: its own store, its own bus client."""
    return ServiceRuntime(
        name=name,
        store=store or make_store(settings, name),
        bus=make_bus(settings, name, topics, bus_metrics),
        registry=registry,
        outbox_collections=outbox_collections,
        subscriptions=subscriptions,
        setup=setup,
        background=background,
        retry=RetryPolicy(max_attempts=settings.consumer_max_attempts),
        outbox_poll_seconds=settings.outbox_poll_seconds,
    )

"""Prometheus metrics of the bus, registered on a registry the caller owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class BusMetrics:
    """All bus metrics; pass one instance (built on the app's registry) to the bus."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry by default so that several buses (tests, benches) never collide.
        registry = registry if registry is not None else CollectorRegistry()
        self.published = Counter(
            "canteen_bus_published_total",
            "Events appended to a topic.",
            ["topic"],
            registry=registry,
        )
        self.handled = Counter(
            "canteen_bus_handled_total",
            "Events a handler finished successfully.",
            ["group", "topic"],
            registry=registry,
        )
        self.handler_duration = Histogram(
            "canteen_bus_handler_duration_seconds",
            "Duration of one handler call (each attempt).",
            ["group", "topic"],
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
            registry=registry,
        )
        self.retries = Counter(
            "canteen_bus_retries_total",
            "Handler attempts that failed and will be retried.",
            ["group", "topic"],
            registry=registry,
        )
        self.batch_fallbacks = Counter(
            "canteen_bus_batch_fallbacks_total",
            "Batches that failed and were delivered again event by event.",
            ["group", "topic"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "canteen_bus_dead_letters_total",
            "Events sent to the dead-letter topic.",
            ["group", "topic", "reason"],
            registry=registry,
        )
        self.lag = Gauge(
            "canteen_bus_consumer_lag",
            "Events in a partition not yet committed by the group.",
            ["group", "topic", "partition"],
            registry=registry,
        )

    def set_lag(self, group: str, topic: str, partition: int, lag: int) -> None:
        self.lag.labels(group, topic, str(partition)).set(max(lag, 0))

"""The Kafka bus compresses with lz4 (its library is a dependency): gzip, aiokafka's
fallback, runs at level 9 in Python and cost the notify process 7% more CPU per event.
The bus contract suite then runs every Kafka test through lz4 batches."""

from __future__ import annotations

from aiokafka import codec

from shared.bus.kafka import KafkaEventBus, best_compression


def test_lz4_is_installed_and_chosen() -> None:
    assert codec.has_lz4()
    assert best_compression() == "lz4"
    assert KafkaEventBus("127.0.0.1:1").compression == "lz4"
    assert KafkaEventBus("127.0.0.1:1", compression=None).compression is None

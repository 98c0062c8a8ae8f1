"""The EventBus contract: every adapter runs exactly these tests (see the `bus` fixture)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest
import structlog
from bus_support import BusFactory, eventually, make_event, running

from shared.bus import EventBus, PoisonEvent, RetryPolicy
from shared.bus.port import PER_EVENT_WINDOW
from shared.events.codec import Message, encode
from shared.events.envelope import Event
from shared.store.errors import StoreUnavailable

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
REPO = Path(__file__).resolve().parents[3]


def collector() -> tuple[list[Event], object]:
    seen: list[Event] = []

    async def handler(event: Event) -> None:
        seen.append(event)

    return seen, handler


# -- publish and consume -------------------------------------------------------------------


async def test_one_event_reaches_the_handler_unchanged(
    bus: EventBus, topic: str, group: str
) -> None:
    seen, handler = collector()
    event = make_event("user-1", 1)
    await bus.publish(event, topic=topic)
    async with running(bus.consumer(group=group, topics=[topic], handler=handler)):  # type: ignore[arg-type]
        await eventually(lambda: len(seen) == 1)
    assert seen[0] == event


async def test_a_batch_is_consumed_whole(bus: EventBus, topic: str, group: str) -> None:
    seen, handler = collector()
    events = [make_event(f"user-{i % 7}", i) for i in range(200)]
    async with running(bus.consumer(group=group, topics=[topic], handler=handler)):  # type: ignore[arg-type]
        await bus.publish_batch([(topic, e) for e in events])
        await eventually(lambda: len(seen) >= 200)
    assert sorted(e.id for e in seen) == sorted(e.id for e in events)


async def test_each_key_is_handled_in_publish_order(bus: EventBus, topic: str, group: str) -> None:
    keys = [f"post-{i}" for i in range(24)]
    per_key = 40
    received: dict[str, list[int]] = defaultdict(list)

    async def handler(event: Event) -> None:
        if random.random() < 0.05:
            await asyncio.sleep(0.001)  # interleave partitions
        received[event.data["key"]].append(event.data["n"])

    async def publisher(my_keys: list[str]) -> None:
        for n in range(per_key):
            if n % 2:
                await bus.publish_batch([(topic, make_event(k, n)) for k in my_keys])
            else:
                for k in my_keys:
                    await bus.publish(make_event(k, n), topic=topic)

    async with running(bus.consumer(group=group, topics=[topic], handler=handler)):
        await asyncio.gather(*(publisher(keys[i::4]) for i in range(4)))
        await eventually(lambda: sum(map(len, received.values())) >= len(keys) * per_key)
    for key in keys:
        assert received[key] == list(range(per_key)), key


# -- failures ------------------------------------------------------------------------------


async def test_a_failing_event_is_retried_then_dead_lettered_with_its_reason(
    bus: EventBus, bus_factory: BusFactory, topic: str, group: str
) -> None:
    attempts: Counter[int] = Counter()
    handled: list[int] = []

    async def handler(event: Event) -> None:
        n = event.data["n"]
        attempts[n] += 1
        if n == 0:
            raise RuntimeError("boom")
        handled.append(n)

    bad = make_event("same-key", 0)
    await bus.publish_batch([(topic, bad), (topic, make_event("same-key", 1))])
    async with running(
        bus.consumer(group=group, topics=[topic], handler=handler, retry=FAST_RETRY)
    ):
        await eventually(lambda: handled == [1])  # the failure does not block its key forever
    [dead] = await bus_factory.read_raw(f"{topic}.dlq", 1)
    original = encode(bad)
    assert attempts[0] == 3
    assert (dead.key, dead.value) == (original.key, original.value)
    assert {k: v for k, v in dead.headers.items() if k.startswith("ce_")} == {
        k: v for k, v in original.headers.items() if k.startswith("ce_")
    }
    assert dead.headers["dlq_error"] == b"RuntimeError: boom"
    assert dead.headers["dlq_attempts"] == b"3"
    # Dead letters name the physical group and topic (namespace included): that is where
    # an operator finds and replays them.
    assert dead.headers["dlq_group"] == bus_factory.physical(group).encode()
    assert dead.headers["dlq_original_topic"] == bus_factory.physical(topic).encode()


async def test_an_unavailable_store_is_waited_for_and_never_dead_letters(
    bus: EventBus, topic: str, group: str
) -> None:
    """An outage is not the event's fault: more failures than attempts, then it is handled."""
    attempts: Counter[int] = Counter()
    handled: list[int] = []

    async def handler(event: Event) -> None:
        n = event.data["n"]
        attempts[n] += 1
        if attempts[n] <= FAST_RETRY.max_attempts + 2:
            raise StoreUnavailable("connection refused")
        handled.append(n)

    await bus.publish_batch([(topic, make_event("k", 0)), (topic, make_event("k", 1))])
    async with running(
        bus.consumer(group=group, topics=[topic], handler=handler, retry=FAST_RETRY)
    ):
        await eventually(lambda: handled == [0, 1], within=30)
    assert attempts == {0: FAST_RETRY.max_attempts + 3, 1: FAST_RETRY.max_attempts + 3}


async def test_a_batch_meeting_an_unavailable_store_is_run_again_whole(
    bus: EventBus, topic: str, group: str
) -> None:
    calls: list[list[int]] = []
    singles: list[int] = []
    applied: list[int] = []

    async def batch(events: Sequence[Event]) -> None:
        calls.append([e.data["n"] for e in events])
        if len(calls) <= FAST_RETRY.max_attempts + 1:
            raise StoreUnavailable("server selection timed out")
        applied.extend(e.data["n"] for e in events)

    async def single(event: Event) -> None:
        singles.append(event.data["n"])

    await bus.publish_batch([(topic, make_event("k", n)) for n in range(4)])
    consumer = bus.consumer(
        group=group, topics=[topic], handler=single, retry=FAST_RETRY, batch_handler=batch
    )
    async with running(consumer):
        await eventually(lambda: sorted(applied) == [0, 1, 2, 3], within=30)
    assert singles == []  # no fall-back to single events, so no dead letters either
    assert len(calls) > FAST_RETRY.max_attempts + 1


async def test_malformed_messages_and_poison_events_are_dead_lettered_at_once(
    bus: EventBus, bus_factory: BusFactory, topic: str, group: str
) -> None:
    attempts: Counter[str] = Counter()

    async def handler(event: Event) -> None:
        attempts[event.data["key"]] += 1
        if event.data["key"] == "poison":
            raise PoisonEvent("can never succeed")

    await bus.publish_raw(topic, Message(headers={"ce_id": b"x"}, key=b"k", value=b"{not json"))
    await bus.publish(make_event("poison", 0), topic=topic)
    await bus.publish(make_event("fine", 0), topic=topic)
    slow = RetryPolicy(max_attempts=5, initial_backoff=30, max_backoff=30)
    async with running(bus.consumer(group=group, topics=[topic], handler=handler, retry=slow)):
        dead = await bus_factory.read_raw(f"{topic}.dlq", 2, within=20)
        await eventually(lambda: attempts["fine"] == 1)
    by_value = {m.value: m for m in dead}
    assert by_value[b"{not json"].headers["dlq_attempts"] == b"0"
    assert by_value[b"{not json"].headers["dlq_error"].startswith(b"MalformedMessage")
    poisoned = next(m for m in dead if m.value != b"{not json")
    assert poisoned.headers["dlq_attempts"] == b"1"
    assert poisoned.headers["dlq_error"] == b"PoisonEvent: can never succeed"
    assert attempts["poison"] == 1


# -- batch handlers ------------------------------------------------------------------------


async def test_a_batch_handler_gets_many_events_per_call_in_key_order(
    bus: EventBus, topic: str, group: str
) -> None:
    calls: list[int] = []
    received: dict[str, list[int]] = defaultdict(list)

    async def batch(events: Sequence[Event]) -> None:
        calls.append(len(events))
        for event in events:
            received[event.data["key"]].append(event.data["n"])

    async def single(event: Event) -> None:
        raise AssertionError("a batch that succeeds needs no per-event delivery")

    events = [make_event(f"post-{i % 10}", i // 10) for i in range(1000)]
    await bus.publish_batch([(topic, e) for e in events])
    consumer = bus.consumer(group=group, topics=[topic], handler=single, batch_handler=batch)
    async with running(consumer):
        await eventually(lambda: sum(calls) >= 1000)
    assert sum(calls) == 1000
    assert max(calls) > 1  # batched, not one call per event
    for key in (f"post-{i}" for i in range(10)):
        assert received[key] == list(range(100)), key


async def test_partitions_with_a_backlog_are_handled_concurrently(
    bus: EventBus, topic: str, group: str
) -> None:
    """A backlog on every partition: batches of different partitions run at the same time
    (the handler's store round trips overlap), each partition's still in order. On Kafka
    one fetch fills its `max_records` from a single partition when it can; the consumer
    adds what the others already have buffered."""
    in_flight: set[int] = set()
    overlapped: list[int] = []
    received: dict[str, list[int]] = defaultdict(list)
    total = [0]

    async def batch(events: Sequence[Event]) -> None:
        keys = {e.data["key"] for e in events}
        token = id(events)
        in_flight.add(token)
        overlapped.append(len(in_flight))
        await asyncio.sleep(0.02)  # the handler's store round trips
        for event in events:
            received[event.data["key"]].append(event.data["n"])
        in_flight.discard(token)
        total[0] += len(events)
        assert keys

    async def single(event: Event) -> None:
        raise AssertionError("a batch that succeeds needs no per-event delivery")

    events = [make_event(f"post-{i % 30}", i // 30) for i in range(6000)]
    await bus.publish_batch([(topic, e) for e in events])
    consumer = bus.consumer(
        group=group, topics=[topic], handler=single, batch_handler=batch, max_batch=500
    )
    async with running(consumer):
        await eventually(lambda: total[0] >= 6000)
    assert total[0] == 6000
    # Most calls start while another partition's batch is in flight (one fetch at a time
    # from a single partition gave one such call in thirteen).
    assert sum(1 for n in overlapped if n > 1) * 3 >= len(overlapped), overlapped
    for key in (f"post-{i}" for i in range(30)):
        assert received[key] == list(range(200)), key


@pytest.mark.parametrize("max_batch", [7, 1500])
async def test_a_batch_holds_at_most_max_batch_events(
    bus: EventBus, topic: str, group: str, max_batch: int
) -> None:
    """The subscription's bound, below and above the adapters' usual fetch size."""
    calls: list[int] = []

    async def batch(events: Sequence[Event]) -> None:
        calls.append(len(events))

    async def single(event: Event) -> None:
        raise AssertionError("a batch that succeeds needs no per-event delivery")

    await bus.publish_batch([(topic, make_event("one-key", n)) for n in range(3000)])
    consumer = bus.consumer(
        group=group, topics=[topic], handler=single, batch_handler=batch, max_batch=max_batch
    )
    async with running(consumer):
        await eventually(lambda: sum(calls) >= 3000)
    assert sum(calls) == 3000
    assert max(calls) <= max_batch
    if max_batch > 1000:  # one key, one partition: a fetch holds a whole batch of it
        assert max(calls) > 1000, calls


async def test_a_failing_batch_falls_back_to_single_events_with_retries_and_dead_letters(
    bus: EventBus, bus_factory: BusFactory, topic: str, group: str
) -> None:
    batch_calls: list[list[int]] = []
    attempts: Counter[int] = Counter()
    applied: list[int] = []

    async def batch(events: Sequence[Event]) -> None:
        batch_calls.append([e.data["n"] for e in events])
        if any(e.data["n"] == 3 for e in events):
            raise RuntimeError("one bad apple")
        applied.extend(e.data["n"] for e in events)

    async def single(event: Event) -> None:
        n = event.data["n"]
        attempts[n] += 1
        if n == 3:
            raise RuntimeError("still bad")
        applied.append(n)

    await bus.publish_raw(topic, Message(headers={"ce_id": b"x"}, key=b"k", value=b"{not json"))
    await bus.publish_batch([(topic, make_event("same-key", n)) for n in range(6)])
    consumer = bus.consumer(
        group=group, topics=[topic], handler=single, retry=FAST_RETRY, batch_handler=batch
    )
    async with running(consumer):
        dead = await bus_factory.read_raw(f"{topic}.dlq", 2, within=20)
        await eventually(lambda: sorted(set(applied)) == [0, 1, 2, 4, 5])
    assert attempts[3] == FAST_RETRY.max_attempts
    assert all(attempts[n] == 1 for n in (0, 1, 2, 4, 5))  # the fallback ran each once
    assert applied[-5:] == [0, 1, 2, 4, 5]  # per-event fallback keeps the offset order
    errors = sorted(m.headers["dlq_error"] for m in dead)
    assert errors[0].startswith(b"MalformedMessage")
    assert errors[1] == b"RuntimeError: still bad"
    assert all(3 in call for call in batch_calls)  # the malformed one never reached a batch


async def test_a_batch_is_redelivered_after_a_crash_and_committed_after_success(
    bus: EventBus, topic: str, group: str
) -> None:
    seen: list[int] = []
    crash = True

    async def batch(events: Sequence[Event]) -> None:
        if crash:
            raise asyncio.CancelledError  # the process dies mid-batch: nothing committed
        seen.extend(e.data["n"] for e in events)

    async def single(event: Event) -> None:
        seen.append(event.data["n"])

    await bus.publish_batch([(topic, make_event("k", n)) for n in range(20)])
    task = asyncio.create_task(
        bus.consumer(group=group, topics=[topic], handler=single, batch_handler=batch).run()
    )
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=30)
    assert seen == []
    crash = False
    async with running(
        bus.consumer(group=group, topics=[topic], handler=single, batch_handler=batch)
    ):
        await eventually(lambda: len(seen) >= 20)
    assert seen == list(range(20))


# -- groups, replay, shutdown --------------------------------------------------------------


async def test_every_group_receives_every_event(bus: EventBus, topic: str) -> None:
    events = [make_event(f"k{i}", i) for i in range(30)]
    seen_a, handler_a = collector()
    seen_b, handler_b = collector()
    async with (
        running(bus.consumer(group=f"a-{topic}", topics=[topic], handler=handler_a)),  # type: ignore[arg-type]
        running(bus.consumer(group=f"b-{topic}", topics=[topic], handler=handler_b)),  # type: ignore[arg-type]
    ):
        await bus.publish_batch([(topic, e) for e in events])
        await eventually(lambda: len(seen_a) >= 30 and len(seen_b) >= 30)
    assert (
        sorted(e.id for e in seen_a) == sorted(e.id for e in seen_b) == sorted(e.id for e in events)
    )


async def test_a_new_group_replays_from_the_start_and_offsets_can_be_reset(
    bus: EventBus, topic: str, group: str
) -> None:
    events = [make_event(f"k{i}", i) for i in range(10)]
    await bus.publish_batch([(topic, e) for e in events])
    seen, handler = collector()
    async with running(bus.consumer(group=group, topics=[topic], handler=handler)):  # type: ignore[arg-type]
        await eventually(lambda: len(seen) == 10)
    await bus.reset_offsets(group=group, topic=topic, offset=0)
    async with running(bus.consumer(group=group, topics=[topic], handler=handler)):  # type: ignore[arg-type]
        await eventually(lambda: len(seen) == 20)
    assert sorted(e.id for e in seen) == sorted(e.id for e in events * 2)


async def test_graceful_stop_finishes_and_commits_the_in_flight_event(
    bus: EventBus, topic: str, group: str
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    first: list[int] = []

    async def blocking(event: Event) -> None:
        if event.data["n"] == 5:
            started.set()
            await release.wait()
        first.append(event.data["n"])

    await bus.publish_batch([(topic, make_event("one-key", n)) for n in range(10)])
    consumer = bus.consumer(group=group, topics=[topic], handler=blocking)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(started.wait(), 30)
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.05)  # let stop() begin while the handler is still busy
    release.set()
    await asyncio.wait_for(stopping, 30)
    await asyncio.wait_for(task, 30)
    assert first == [0, 1, 2, 3, 4, 5]

    then: list[int] = []

    async def recording(event: Event) -> None:
        then.append(event.data["n"])

    async with running(bus.consumer(group=group, topics=[topic], handler=recording)):
        await eventually(lambda: len(then) >= 4)
    assert then == [6, 7, 8, 9]


async def handled_until_killed(
    bus_factory: BusFactory,
    group: str,
    topic: str,
    tmp_path: Path,
    hang_on: int,
    max_batch: int | None = None,
) -> list[int]:
    """Run a consumer process (crash_consumer.py) until it hangs on event `hang_on`, kill
    it with SIGKILL, and return the events it handled before (with `max_batch`, through a
    batch handler of that size)."""
    out = tmp_path / "handled.txt"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("crash_consumer.py")),
        json.dumps(bus_factory.spec()),
        group,
        topic,
        str(out),
        str(hang_on),
        *([] if max_batch is None else [str(max_batch)]),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        await eventually(lambda: out.exists() and f"hang {hang_on}" in out.read_text(), within=60)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    return [int(line) for line in out.read_text().splitlines() if line.isdigit()]


async def test_uncommitted_events_are_redelivered_after_a_crash(
    bus: EventBus, bus_factory: BusFactory, topic: str, group: str, tmp_path: Path
) -> None:
    await bus.publish_batch([(topic, make_event("one-key", n)) for n in range(20)])
    # It hangs on the 12th event, so that one is in flight when killed.
    handled_before = await handled_until_killed(bus_factory, group, topic, tmp_path, 12)
    assert handled_before == list(range(12))

    again: list[int] = []

    async def handler(event: Event) -> None:
        again.append(event.data["n"])

    async with running(bus.consumer(group=group, topics=[topic], handler=handler)):
        await eventually(lambda: 19 in again, within=60)
    assert 12 in again  # in flight when the process died: delivered again
    assert again == sorted(again)
    assert set(handled_before) | set(again) == set(range(20))


async def test_a_crash_redelivers_at_most_one_window_of_handled_events(
    bus: EventBus, bus_factory: BusFactory, topic: str, group: str, tmp_path: Path
) -> None:
    # Per-event handlers deduplicate with the last 200-256 event ids a document keeps: a
    # crash must not redeliver more handled events than PER_EVENT_WINDOW, even when all of
    # them were fetched at once (here: 250 on one key, hanging on the 240th).
    await bus.publish_batch([(topic, make_event("one-key", n)) for n in range(250)])
    handled_before = await handled_until_killed(bus_factory, group, topic, tmp_path, 240)
    assert handled_before == list(range(240))

    again: list[int] = []

    async def handler(event: Event) -> None:
        again.append(event.data["n"])

    async with running(bus.consumer(group=group, topics=[topic], handler=handler)):
        await eventually(lambda: 249 in again, within=60)
    redelivered = set(handled_before) & set(again)
    assert len(redelivered) <= PER_EVENT_WINDOW, f"{len(redelivered)} handled events came again"
    assert set(handled_before) | set(again) == set(range(250))


async def test_members_of_one_group_share_the_partitions_without_duplicates(
    bus: EventBus, topic: str, group: str
) -> None:
    seen_a, handler_a = collector()
    seen_b, handler_b = collector()
    published: list[Event] = []
    async with (
        running(bus.consumer(group=group, topics=[topic], handler=handler_a)),  # type: ignore[arg-type]
        running(bus.consumer(group=group, topics=[topic], handler=handler_b)),  # type: ignore[arg-type]
    ):
        deadline = asyncio.get_running_loop().time() + 60
        # Keep publishing until both members work: joining takes a while on Kafka.
        while not (seen_a and seen_b):
            assert asyncio.get_running_loop().time() < deadline, "the second member never got work"
            batch = [make_event(f"k{len(published) + i}", len(published) + i) for i in range(30)]
            await bus.publish_batch([(topic, e) for e in batch])
            published += batch
            await asyncio.sleep(0.1)
        await eventually(lambda: len(seen_a) + len(seen_b) >= len(published))
    ids = [e.id for e in seen_a + seen_b]
    assert len(ids) == len(set(ids)), "an event was handled twice"
    assert set(ids) == {e.id for e in published}


# -- observability -------------------------------------------------------------------------


async def test_handler_sees_event_ids_in_the_log_context_and_metrics_count(
    bus: EventBus, bus_factory: BusFactory, topic: str, group: str
) -> None:
    contexts: list[dict[str, object]] = []

    async def handler(event: Event) -> None:
        contexts.append(structlog.contextvars.get_contextvars())

    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    event = make_event("k", 0, traceparent=f"00-{trace}-00f067aa0ba902b7-01")
    await bus.publish(event, topic=topic)
    async with running(bus.consumer(group=group, topics=[topic], handler=handler)):
        await eventually(lambda: len(contexts) == 1)
    group, topic = bus_factory.physical(group), bus_factory.physical(topic)
    bound = {"event_id": event.id, "event_type": event.type, "group": group, "trace_id": trace}
    assert contexts[0].items() >= bound.items()
    assert "event_id" not in structlog.contextvars.get_contextvars()
    metrics = bus.metrics
    assert metrics.published.labels(topic)._value.get() == 1
    assert metrics.handled.labels(group, topic)._value.get() == 1


async def test_a_crash_redelivers_at_most_one_batch_of_handled_events(
    bus: EventBus, bus_factory: BusFactory, topic: str, group: str, tmp_path: Path
) -> None:
    # Batch handlers deduplicate like per-event ones, with ids a document keeps (the inbox's
    # counters keep 512, above its batch of 500): a crash must not redeliver more handled
    # events than one batch, even when a fetch could hold many batches (here: batches of
    # 50 on one key, hanging in the batch holding the 1,200th).
    await bus.publish_batch([(topic, make_event("one-key", n)) for n in range(1300)])
    handled_before = await handled_until_killed(
        bus_factory, group, topic, tmp_path, 1200, max_batch=50
    )
    assert handled_before == list(range(len(handled_before)))
    assert len(handled_before) >= 1150

    again: list[int] = []

    async def batch(events: Sequence[Event]) -> None:
        again.extend(event.data["n"] for event in events)

    async def single(event: Event) -> None:
        again.append(event.data["n"])

    consumer = bus.consumer(
        group=group, topics=[topic], handler=single, batch_handler=batch, max_batch=50
    )
    async with running(consumer):
        await eventually(lambda: 1299 in again, within=60)
    redelivered = set(handled_before) & set(again)
    assert len(redelivered) <= 50, f"{len(redelivered)} handled events came again"
    assert set(handled_before) | set(again) == set(range(1300))

"""`canteen admin dlq`: list, show, replay and purge dead letters, on both buses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bench.stack import free_port
from shared.backends import make_bus
from shared.bus.dlq import DeadLetters
from shared.bus.port import dlq_topic
from shared.events import Event
from shared.events.codec import Message, encode
from shared.ids import new_id
from shared.settings import CanteenSettings
from tests.cli.conftest import Invoke

TOPIC = "canteen.activity"


def event(n: int) -> Event:
    return Event(
        id=new_id(),
        source="canteen.test",
        type="canteen.test.thing.happened.v1",
        subject=f"thing-{n}",
        time=datetime.now(UTC),
        data={"n": n},
    )


def dead_letter(e: Event, error: str) -> Message:
    """What the delivery loop writes: the original message plus the dlq_* headers."""
    original = encode(e)
    headers = {
        **original.headers,
        "dlq_error": error.encode(),
        "dlq_attempts": b"5",
        "dlq_group": b"search.indexing",
        "dlq_original_topic": TOPIC.encode(),
    }
    return Message(headers=headers, key=original.key, value=original.value)


async def _publish_dead_letters(settings: CanteenSettings, events: list[Event]) -> None:
    bus = make_bus(settings, "test-dlq", topics=[TOPIC])
    await bus.start()
    try:
        for e in events:
            await bus.publish_raw(dlq_topic(TOPIC), dead_letter(e, f"RuntimeError: boom {e.id}"))
    finally:
        await bus.close()


async def _published(settings: CanteenSettings) -> list[Message]:
    bus = make_bus(settings, "test-dlq", topics=[TOPIC])
    await bus.start()
    letters = DeadLetters(bus)
    try:
        return [m for _, _, m in await letters.peek(TOPIC, limit=1000)]
    finally:
        await letters.close()
        await bus.close()


def _position(listing: str, event_id: str) -> tuple[str, str]:
    line = next(line for line in listing.splitlines() if event_id in line)
    partition, offset = line.split()[1].split("/")
    return partition, offset


def test_list_show_replay_purge(settings: CanteenSettings, invoke: Invoke) -> None:
    first, second, third = event(1), event(2), event(3)
    asyncio.run(_publish_dead_letters(settings, [first, second]))

    summary = invoke("admin", "dlq", "list")
    assert summary.exit_code == 0, summary.output
    assert f"{TOPIC}.dlq" in summary.stderr

    listed = invoke("admin", "dlq", "list", TOPIC)
    assert listed.exit_code == 0, listed.output
    assert "2 pending" in listed.stderr
    assert first.id in listed.stderr and second.id in listed.stderr
    assert "search.indexing" in listed.stderr

    partition, offset = _position(listed.stderr, first.id)
    shown = invoke("admin", "dlq", "show", TOPIC, "--partition", partition, "--offset", offset)
    assert shown.exit_code == 0, shown.output
    assert f"RuntimeError: boom {first.id}" in shown.stderr
    assert "dlq_attempts" in shown.stderr and '{"n":1}' in shown.stderr

    replayed = invoke("admin", "dlq", "replay", TOPIC, "--yes")
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 2" in replayed.stderr
    republished = asyncio.run(_published(settings))
    assert sorted(m.headers["ce_id"].decode() for m in republished) == sorted([first.id, second.id])
    for message in republished:  # exactly the original: no dlq_* headers left
        assert not any(k.startswith("dlq_") for k in message.headers)
        assert message.key in (encode(first).key, encode(second).key)
    assert "0 pending" in invoke("admin", "dlq", "list", TOPIC).stderr

    asyncio.run(_publish_dead_letters(settings, [third]))
    assert "1 pending" in invoke("admin", "dlq", "list", TOPIC).stderr
    purged = invoke("admin", "dlq", "purge", f"{TOPIC}.dlq", "--yes")
    assert purged.exit_code == 0, purged.output
    assert "purged 1" in purged.stderr
    assert "0 pending" in invoke("admin", "dlq", "list", TOPIC).stderr
    assert len(asyncio.run(_published(settings))) == 2  # purging republished nothing

    # Dealt-with letters stay readable by position.
    again = invoke("admin", "dlq", "show", TOPIC, "--partition", partition, "--offset", offset)
    assert again.exit_code == 0 and first.id in again.stderr


def test_replay_asks_first_and_one_letter_by_position(
    settings: CanteenSettings, invoke: Invoke
) -> None:
    one, two = event(1), event(2)
    asyncio.run(_publish_dead_letters(settings, [one, two]))
    listed = invoke("admin", "dlq", "list", TOPIC).stderr

    refused = invoke("admin", "dlq", "replay", TOPIC, input="n\n")
    assert refused.exit_code == 1
    assert asyncio.run(_published(settings)) == []

    partition, offset = _position(listed, two.id)
    result = invoke(
        "admin", "dlq", "replay", TOPIC, "--partition", partition, "--offset", offset, "--yes"
    )
    assert result.exit_code == 0, result.output
    assert [m.headers["ce_id"].decode() for m in asyncio.run(_published(settings))] == [two.id]
    # `one` was not replayed: it is still pending.
    assert one.id in invoke("admin", "dlq", "list", TOPIC).stderr


def test_unknown_position_is_an_error(settings: CanteenSettings, invoke: Invoke) -> None:
    result = invoke("admin", "dlq", "show", TOPIC, "--partition", "0", "--offset", "99")
    assert result.exit_code == 1
    assert "no dead letter" in result.stderr


@pytest.mark.parametrize(
    "settings", [pytest.param("external", marks=pytest.mark.engines)], indirect=True
)
def test_an_unreachable_bus_is_a_message_not_a_traceback(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANTEEN_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    result = invoke("admin", "dlq", "list")
    assert result.exit_code == 1
    assert "a backend is unreachable" in result.stderr
    assert "Traceback" not in result.output

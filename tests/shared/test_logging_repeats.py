"""A client library's reconnect noise is limited to one line per window, with a count."""

from __future__ import annotations

import logging

from shared.logging import RepeatLimit


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_repeats_of_a_client_library_pass_once_per_window_with_a_count() -> None:
    now = [100.0]
    limit = RepeatLimit(window=10.0, clock=lambda: now[0])
    template = "Unable connect to node with id %s: %s"
    passed = [limit.filter(record("aiokafka", template, 1, "refused")) for _ in range(500)]
    assert passed.count(True) == 1
    other = record("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s", 1, "x")
    assert limit.filter(other)  # another template (and logger) is not held back
    now[0] += 10.5
    later = record("aiokafka", template, 1, "refused")
    assert limit.filter(later)
    assert later.getMessage() == (
        "Unable connect to node with id 1: refused [499 more like this in the last 10 s]"
    )
    assert not limit.filter(record("aiokafka", template, 1, "refused"))


def test_other_loggers_are_never_limited() -> None:
    limit = RepeatLimit(window=10.0, clock=lambda: 0.0)
    access = '%s - "%s %s HTTP/%s" %d'
    lines = [record("uvicorn.access", access, "c", "GET", "/x", "1.1", 200) for _ in range(50)]
    assert all(limit.filter(line) for line in lines)

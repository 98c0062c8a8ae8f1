"""The process's garbage collector while its services run (`tuned_collector`).

CPython 3.11 runs its young-generation collection every 700 container allocations, and a
full one over the whole heap once enough objects have survived the younger ones. A service
handling events in batches keeps thousands of events (tens of thousands of objects) alive
across awaits, so every young collection promoted them and full collections came about twice
a second, ~100 ms each: a third of the notify process's CPU under load
(`bench/bench_notify.py`, docs/performance.md "session 21"), and pauses that land in any
request's latency. With a young collection every 10,000 allocations most of a batch is gone
by the time the collector looks; frozen, what start-up built (modules, apps, clients: about
120k objects) is left out of every later full scan. Garbage in reference cycles is still
collected, a little later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

log = structlog.get_logger(__name__)

# Apps inside one process (the all-in-one, or tests running several) share one collector:
# the first to start tunes it, the last to stop restores it.
_users = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def tuned_collector(young_threshold: int) -> Iterator[None]:
    """While inside: start-up's objects frozen and, unless `young_threshold` is 0, a young
    collection every `young_threshold` allocations. Enter once the services have started."""
    global _users, _saved
    if _users == 0:
        _saved = gc.get_threshold()
        gc.collect()  # start-up's garbage is freed, not frozen with the rest
        gc.freeze()
        if young_threshold:
            gc.set_threshold(young_threshold, _saved[1], _saved[2])
        log.info(
            "process.collector.tuned",
            young_threshold=gc.get_threshold()[0],
            frozen_objects=gc.get_freeze_count(),
        )
    _users += 1
    try:
        yield
    finally:
        _users -= 1
        if _users == 0 and _saved is not None:
            # Frozen objects dropped since (a stopped app) become collectable again.
            gc.unfreeze()
            gc.set_threshold(*_saved)

"""One marker for "a backing service is down", whichever adapter found it.

A store or search index that cannot be reached is neither a bug nor a poison event: an HTTP
request answers 503 (`shared/http/errors.py`) and a consumer waits and retries the same
event until the dependency is back, without counting it against the event's attempts, so an
outage never sends events to the dead-letter topic (`shared/bus/delivery.py`).
"""

from __future__ import annotations


class DependencyUnavailable(Exception):
    """A backing service (store, search index) cannot be reached right now."""

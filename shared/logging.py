"""structlog set-up: JSON lines in production, readable console in dev.

Event names are stable and dotted (`activity.post.created`); request and event ids are bound
through `structlog.contextvars` by the HTTP middleware and the consumer loop, so every line
carries them without passing loggers around. A processor drops any key that looks like a
credential, as a last line of defence.
"""

from __future__ import annotations

import json as json_module
import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

_SECRET_KEYS = ("password", "token", "secret", "authorization", "cookie", "api_key")
# Whether a key names a credential, by key: log lines reuse a few dozen keys.
_secret_key: dict[str, bool] = {}


def _is_secret(key: str) -> bool:
    known = _secret_key.get(key)
    if known is None:
        known = any(marker in key.lower() for marker in _SECRET_KEYS)
        if len(_secret_key) < 10_000:  # keys are names in code, not values; bound it anyway
            _secret_key[key] = known
    return known


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if _is_secret(key):
            event_dict[key] = "[redacted]"
    return event_dict


def _json_line(event_dict: Any, **kwargs: Any) -> str:
    # orjson: one JSON line in a third of the standard library's time (an access line per
    # request); non-JSON values go through structlog's fallback (`default=`), as before.
    # What orjson refuses (an integer beyond 64 bits) is written by the standard library.
    try:
        return orjson.dumps(event_dict, default=kwargs.get("default")).decode()
    except TypeError:
        return json_module.dumps(event_dict, **kwargs)


def configure_logging(*, level: str = "info", json: bool = False, service: str = "canteen") -> None:
    """Configure structlog and the stdlib root logger once per process."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json
        # plain tracebacks: rich ones print local variables, which may hold tokens.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (uvicorn, aiokafka, pymongo) log through stdlib: route them to the same stream.
    logging.basicConfig(
        level=max(numeric, logging.INFO),
        stream=sys.stderr,
        force=True,
        format="%(levelname)s %(name)s %(message)s",
    )
    for noisy in ("aiokafka", "pymongo", "kafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatLimit())


class RepeatLimit(logging.Filter):
    """Let a library's repeated message through once per `window` seconds, with a count.

    While a Kafka broker is down, aiokafka logs every failed reconnect and metadata
    update: thousands of identical lines a second per process (480 MB in eight minutes
    in a fault test), which would fill an operator's disk during an outage. Only the
    client libraries' records are limited (same logger, level and message template);
    Canteen's own structlog events do not pass through here.
    """

    def __init__(self, window: float = 10.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self._window = window
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    LIMITED = ("aiokafka", "kafka", "pymongo")  # their repeats are reconnect noise

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.LIMITED):
            return True  # e.g. uvicorn's access log: one template, every request
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        since, dropped = self._seen.get(key, (float("-inf"), 0))
        if now - since < self._window:
            self._seen[key] = (since, dropped + 1)
            return False
        if dropped:
            record.msg = f"{record.msg} [{dropped} more like this in the last {now - since:.0f} s]"
        if len(self._seen) > 1000:  # templates, not values: this stays small; bound it anyway
            self._seen.clear()
        self._seen[key] = (now, 0)
        return True

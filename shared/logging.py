"""structlog set-up: JSON lines in production, readable console in dev.

Event names are stable and dotted (`activity.post.created`); request and event ids are bound
through `structlog.contextvars` by the HTTP middleware and the consumer loop, so every line
carries them without passing loggers around. A processor drops any key that looks like a
credential, as a last line of defence.
"""

from __future__ import annotations

import atexit
import json as json_module
import logging
import os
import sys
import threading
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
        logger_factory=(
            _batched_lines(sys.stderr).factory
            if json
            else structlog.PrintLoggerFactory(file=sys.stderr)
        ),
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


# JSON lines at info and below reach the stream at most this long after they were logged.
FLUSH_EVERY_SECONDS = 0.1
_FLUSH_AT_CHARS = 1 << 16
_batches: BatchedLines | None = None


def _batched_lines(stream: Any) -> BatchedLines:
    global _batches
    if _batches is not None:
        _batches.close()  # configured again (a CLI command in a test): one writer at a time
    _batches = BatchedLines(stream, every=FLUSH_EVERY_SECONDS)
    return _batches


class BatchedLines:
    """The structlog logger of JSON mode: info and debug lines are written in batches.

    A line written and flushed on its own costs a `write` system call; under load, with
    one access line per request, those calls were a third of a cached feed page's time
    (the client's threads run between them). As nginx's `access_log ... buffer= flush=`
    does, lines at info and below are kept and written together by a flusher thread at
    most `every` seconds later (or at once past 64 KiB). Warnings and errors are written
    at once, after whatever was kept, so order holds and nothing that matters waits. The
    cost: a process killed with SIGKILL loses its last `every` seconds of info lines;
    a normal exit writes them (atexit).
    """

    def __init__(self, stream: Any, *, every: float) -> None:
        self._stream = stream
        self._every = every
        self._lines: list[str] = []
        self._chars = 0
        self._lock = threading.Lock()
        self._waiting = threading.Condition(self._lock)
        self._closed = False
        self._start_flusher()
        atexit.register(self.close)
        # A forked child has no flusher and may inherit the lock held (the logging
        # module re-creates its handlers' locks the same way).
        os.register_at_fork(after_in_child=self._after_fork)

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(target=self._run, name="log-flush", daemon=True)
        self._flusher.start()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._waiting = threading.Condition(self._lock)
        if not self._closed:
            self._start_flusher()

    def factory(self, *_: Any) -> BatchedLines:
        return self

    def msg(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            self._chars += len(line)
            if self._chars >= _FLUSH_AT_CHARS or self._closed:
                self._write_locked()  # closed: a logger cached before a reconfiguration
            elif len(self._lines) == 1:
                self._waiting.notify()

    def now(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            self._write_locked()

    log = debug = info = msg
    warn = warning = fatal = failure = err = error = critical = exception = now

    def flush(self) -> None:
        with self._lock:
            self._write_locked()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._write_locked()
            self._waiting.notify()
        atexit.unregister(self.close)

    def _write_locked(self) -> None:
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        self._chars = 0
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # stream closed (interpreter exit): nowhere to write
            pass

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._lines and not self._closed:
                    self._waiting.wait()
                if self._closed:
                    return
            time.sleep(self._every)  # let the batch fill, outside the lock
            self.flush()


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

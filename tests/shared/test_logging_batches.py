"""JSON log lines at info and below are written in batches; warnings and errors at once."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

from shared.logging import BatchedLines


def lines_in(stream: io.StringIO) -> list[str]:
    text = stream.getvalue()
    assert text == "" or text.endswith("\n"), "a line was written in part"
    return text.splitlines()


def test_info_lines_wait_for_the_flusher_and_arrive_whole_and_in_order() -> None:
    stream = io.StringIO()
    lines = BatchedLines(stream, every=0.05)
    try:
        for n in range(20):
            lines.info(f'{{"n":{n}}}')
        assert lines_in(stream) == [], "an info line was written at once"
        deadline = time.monotonic() + 10
        while not stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lines_in(stream) == [f'{{"n":{n}}}' for n in range(20)]
    finally:
        lines.close()


def test_a_warning_writes_what_was_kept_and_itself_at_once() -> None:
    stream = io.StringIO()
    lines = BatchedLines(stream, every=60)  # the flusher would wait a minute
    try:
        lines.info("first")
        lines.debug("second")
        lines.warning("third")
        assert lines_in(stream) == ["first", "second", "third"]
        lines.info("fourth")
        lines.error("fifth")
        assert lines_in(stream) == ["first", "second", "third", "fourth", "fifth"]
    finally:
        lines.close()


def test_a_full_batch_is_written_without_waiting() -> None:
    stream = io.StringIO()
    lines = BatchedLines(stream, every=60)
    try:
        line = "x" * 1000
        for _ in range(70):  # 70,000 characters: past the 64 KiB batch
            lines.info(line)
        assert len(lines_in(stream)) >= 65
    finally:
        lines.close()


def test_closing_writes_the_rest_and_later_lines_go_straight_through() -> None:
    stream = io.StringIO()
    lines = BatchedLines(stream, every=60)
    lines.info("kept")
    lines.close()
    assert lines_in(stream) == ["kept"]
    lines.info("after")  # a logger structlog cached before a reconfiguration
    assert lines_in(stream) == ["kept", "after"]


def test_a_forked_child_still_writes_its_lines(tmp_path: Path) -> None:
    out = tmp_path / "child.log"
    with out.open("w", buffering=1) as stream:
        lines = BatchedLines(stream, every=0.05)
        try:
            with lines._lock:  # held at the fork, as by a thread logging at that moment
                pid = os.fork()
                if pid == 0:  # the child: log, wait for its flusher, exit
                    try:
                        lines.info("from the child")
                        deadline = time.monotonic() + 10
                        while "child" not in out.read_text() and time.monotonic() < deadline:
                            time.sleep(0.01)
                    finally:
                        os._exit(0)
            deadline = time.monotonic() + 20
            done, status = os.waitpid(pid, os.WNOHANG)
            while not done and time.monotonic() < deadline:
                time.sleep(0.01)
                done, status = os.waitpid(pid, os.WNOHANG)
            if not done:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        finally:
            lines.close()
    assert done, "the child hung logging (a lock held at the fork)"
    assert os.waitstatus_to_exitcode(status) == 0
    assert out.read_text().splitlines() == ["from the child"]

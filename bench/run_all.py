"""Run every benchmark against the engines of `make engines-up`; print and save markdown.

One section per benchmark, in the order of the issues whose targets they measure (`--only
WORD` picks sections by title, `--no-e2e` leaves out the four-process ones); a benchmark
that fails prints its error in its section and the others still run.

Numbers are measurements, never assertions: paste them into docs/performance.md with the
date and machine when they change materially.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Section:
    title: str
    script: str
    args: list[str]
    e2e: bool = False  # four service processes (skipped with --no-e2e)


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parent,
    )
    if result.returncode != 0:
        tail = result.stderr[-2000:]
        return f"**{script} failed** (exit {result.returncode}):\n\n```\n{tail}\n```\n"
    return result.stdout


def sections(kafka: str | None, mongo: str | None, opensearch: str | None) -> list[Section]:
    """Every benchmark, in the order of the issues, with the engines it is given."""
    engines = bool(kafka and mongo)
    backend = "external" if engines else "embedded"
    on_kafka = ["--kafka", kafka] if kafka else []
    on_engines = ["--kafka", kafka, "--mongo-uri", mongo] if kafka and mongo else []
    return [
        Section("Event bus", "bench_bus.py", on_kafka),
        Section("Document store", "bench_store.py", ["--mongo-uri", mongo] if mongo else []),
        # The home page against a bare route, and a fan-out to 10,000 followers (#3).
        Section("Activity: feeds", "bench_feeds.py", ["--http", "--fanout"]),
        # /experts latency, and expertise updates against the raw engine (#4).
        Section("Profiles: expertise", "bench_expertise.py", ["--events", "10000", *on_engines]),
        # Event to searchable, search latency; the adapter against raw bulk calls (#5).
        Section("Search: service", "bench_search.py", ["--external"] if engines else []),
        Section(
            "Search: index adapters",
            "bench_search_index.py",
            ["--opensearch-url", opensearch] if opensearch else [],
        ),
        # Events/s against the raw engine, event to SSE, unread count (#6). 60,000 events:
        # with a few thousand the start-up and first round of batches dominate the rate.
        Section("Notify", "bench_notify.py", ["-n", "60000"]),
        # The four services as four processes (#7).
        Section("End to end: mixed workload", "bench_mixed.py", ["--backend", backend], e2e=True),
        Section(
            "End to end: post to everywhere",
            "bench_post_to_everywhere.py",
            ["--backend", "both" if engines else "embedded"],
            e2e=True,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--no-e2e",
        action="store_true",
        help="skip the end-to-end benches (four service processes; about 10 minutes)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORD",
        help="run only the sections whose title contains WORD (repeatable), e.g. --only notify",
    )
    args = parser.parse_args()
    chosen = [
        s
        for s in sections(
            os.environ.get("CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS"),
            os.environ.get("CANTEEN_TEST_MONGODB_URI"),
            os.environ.get("CANTEEN_TEST_OPENSEARCH_URL"),
        )
        if not (args.no_e2e and s.e2e)
        and (not args.only or any(w.lower() in s.title.lower() for w in args.only))
    ]
    header = (
        f"# Canteen benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}\n\n"
    )
    text = header + "\n".join(f"## {s.title}\n\n" + run(s.script, *s.args) for s in chosen)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)


if __name__ == "__main__":
    main()

"""Run every benchmark against the engines of `make engines-up`; print and save markdown.

Numbers are measurements, never assertions: paste them into docs/performance.md with the
date and machine when they change materially.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--no-e2e",
        action="store_true",
        help="skip the end-to-end benches (four service processes; about 10 minutes)",
    )
    args = parser.parse_args()
    kafka = os.environ.get("CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS")
    mongo = os.environ.get("CANTEEN_TEST_MONGODB_URI")
    header = (
        f"# Canteen benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}\n\n"
    )
    sections = [
        "## Event bus\n\n" + run("bench_bus.py", *(["--kafka", kafka] if kafka else [])),
        "## Document store\n\n" + run("bench_store.py", *(["--mongo-uri", mongo] if mongo else [])),
    ]
    if not args.no_e2e:
        # The four services as four processes, on the engines (and embedded for the latency).
        backend = "external" if kafka and mongo else "embedded"
        sections += [
            "## End to end: mixed workload\n\n" + run("bench_mixed.py", "--backend", backend),
            "## End to end: post to everywhere\n\n"
            + run("bench_post_to_everywhere.py", "--backend", "both" if kafka else "embedded"),
        ]
    text = header + "\n".join(sections)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)


if __name__ == "__main__":
    main()

"""The benches are not run by `make test` (rule 7: no timings here), but they must not rot:
every module imports, and the stack the end-to-end benches start can be built."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("module", sorted(p.stem for p in BENCH.glob("*.py")))
def test_every_bench_module_imports(module: str) -> None:
    loaded = importlib.import_module(f"bench.{module}")
    assert loaded.__doc__, f"bench/{module}.py says what it measures in its docstring"


def test_the_four_process_stack_can_be_built() -> None:
    from bench.stack import SERVICES, Stack

    stack = Stack("embedded")
    try:
        assert set(stack.urls) == set(SERVICES)
        assert len(set(stack.ports.values())) == len(SERVICES)
        assert stack.procs == {}  # nothing starts before `with`
    finally:
        shutil.rmtree(stack.base, ignore_errors=True)


def test_make_bench_runs_every_benchmark() -> None:
    from bench.run_all import sections

    helpers = {"raw_engine.py", "run_all.py", "stack.py"}
    scripts = {p.name for p in BENCH.glob("*.py")} - helpers
    listed = sections("kafka:9092", "mongodb://m", "http://os:9200")
    assert {s.script for s in listed} == scripts
    assert all((BENCH / s.script).exists() for s in listed)

"""The rig of the fault tests: private engines, the four services as processes, one ledger.

Module-scoped: the fault tests run in order against one stack and one growing workload, so
each later fault also proves the earlier ones left nothing broken behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.fleet import ROOT, Fleet, PrivateEngines
from tests.reliability.workload import Client, Ledger

RESULTS = ROOT / "var" / "reliability" / "faults-latest.json"
FAILURES = RESULTS.with_name("failures.txt")


@dataclass
class Rig:
    engines: PrivateEngines
    fleet: Fleet
    ledger: Ledger = field(default_factory=Ledger)
    tokens: dict[str, str] = field(default_factory=dict)
    ready: bool = False
    diverged: str | None = None  # the first disagreement a fault left behind for good
    results: list[dict[str, Any]] = field(default_factory=list)

    def record(self, fault: str, **numbers: Any) -> None:
        self.results.append({"fault": fault, **numbers})
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(self.results, indent=2, default=str))


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder: Path = tmp_path_factory.mktemp("faults")
    engines = PrivateEngines(folder / "engines")
    started = time.monotonic()
    engines.up()
    fleet = Fleet(folder, engines)
    rig = Rig(engines, fleet)
    try:
        fleet.start_all()
        print(f"rig up in {time.monotonic() - started:.0f}s: {engines.addresses}")
        yield rig
    finally:
        codes = fleet.stop_all()
        engines.down()
        print(f"services stopped: {codes}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed and "rig" in getattr(item, "funcargs", {}):
        report.sections.append(("service logs", item.funcargs["rig"].fleet.log_tails()))
        # At once, not at the end of a half-hour run: what failed, for whoever watches.
        FAILURES.parent.mkdir(parents=True, exist_ok=True)
        with FAILURES.open("a") as out:
            out.write(f"=== {item.nodeid}\n{report.longreprtext[-6000:]}\n")
    return report


@pytest.fixture
async def client(rig: Rig) -> AsyncIterator[Client]:
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(limits=limits) as http:
        client = Client(rig.fleet, http, rig.ledger)
        client.tokens = rig.tokens
        yield client

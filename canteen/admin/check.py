"""`canteen admin check`: ping every backend the settings name, print a readiness table."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from canteen.admin.common import console, quiet_settings, run

if TYPE_CHECKING:
    from shared.settings import CanteenSettings

STORES = ("activity", "profiles", "search", "notify")


@dataclass(frozen=True)
class Probe:
    component: str
    target: str
    ping: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    ok: bool
    millis: float
    detail: str


def register(admin: typer.Typer) -> None:
    admin.command("check")(check)


def check(
    timeout: Annotated[
        float, typer.Option(help="seconds each backend may take to answer", min=0.1)
    ] = 5.0,
) -> None:
    """Ping every backend from the settings (each service's store, the bus, the search index).

    Prints one row per backend with its address, latency and error, and exits 1 when any
    is down, so it fits a deploy script or a cron job: `canteen admin check || page-someone`.
    Run it with the same CANTEEN_* environment as the services.
    """
    settings = quiet_settings()
    outcomes = run(_check_all(settings, timeout))
    table = Table("component", "target", "status", "ms", "detail", title="Canteen readiness")
    for o in outcomes:
        status = "[green]up[/green]" if o.ok else "[red]DOWN[/red]"
        table.add_row(o.probe.component, o.probe.target, status, f"{o.millis:.0f}", o.detail)
    console.print(table)
    down = [o.probe.component for o in outcomes if not o.ok]
    if down:
        console.print(f"[red]{len(down)} down:[/red] {', '.join(down)}")
        raise typer.Exit(1)
    console.print(f"[green]all {len(outcomes)} backends answer[/green]")


async def _check_all(settings: CanteenSettings, seconds: float) -> list[Outcome]:
    if settings.backend == "embedded" and not settings.data_dir.is_dir():
        missing = Probe("data dir", str(settings.data_dir), _nothing)
        return [Outcome(missing, False, 0.0, "does not exist: start the stack once (make run)")]
    probes, closers = _probes(settings)
    try:
        return list(await asyncio.gather(*(_attempt(p, seconds) for p in probes)))
    finally:
        for close in closers:
            # A backend that is down may fail to close too; its row already says so.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), seconds)


async def _nothing() -> None:
    return None


def _probes(
    settings: CanteenSettings,
) -> tuple[list[Probe], list[Callable[[], Awaitable[None]]]]:
    from services.search.backend import make_search_index
    from shared.backends import make_bus, make_store

    probes: list[Probe] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    for service in STORES:
        store = make_store(settings, service)
        probes.append(Probe(f"{service} store", _store_target(settings, service), store.ping))
        closers.append(store.close)
    bus = make_bus(settings, "canteen-admin-check", topics=[])

    async def ping_bus() -> None:
        await bus.start()
        await bus.ping()

    probes.append(Probe("event bus", _bus_target(settings), ping_bus))
    closers.append(bus.close)
    index = make_search_index(settings)
    probes.append(Probe("search index", _index_target(settings), index.ping))
    closers.append(index.close)
    return probes, closers


async def _attempt(probe: Probe, seconds: float) -> Outcome:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe.ping(), seconds)
    except TimeoutError:
        return Outcome(probe, False, _ms(started), f"no answer within {seconds:g}s")
    except Exception as exc:
        return Outcome(probe, False, _ms(started), f"{type(exc).__name__}: {exc}"[:200])
    return Outcome(probe, True, _ms(started), "")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _store_target(settings: CanteenSettings, service: str) -> str:
    if settings.backend == "embedded":
        return str(settings.data_dir / f"{service}.sqlite3")
    return f"mongodb database {settings.mongodb_database(service)}"


def _bus_target(settings: CanteenSettings) -> str:
    if settings.backend == "embedded":
        return str(settings.data_dir / "events.sqlite3")
    return f"kafka {settings.kafka_bootstrap_servers}"


def _index_target(settings: CanteenSettings) -> str:
    if settings.backend == "embedded":
        return str(settings.data_dir / "search-index.sqlite3")
    return f"opensearch {settings.opensearch_url}"

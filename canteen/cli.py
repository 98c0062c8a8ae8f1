"""The `canteen` command line: run, serve, engines, asyncapi; `admin` lives in canteen/admin/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from canteen.admin import admin
from canteen.admin.common import console, load_cli_settings

if TYPE_CHECKING:
    from shared.settings import CanteenSettings

app = typer.Typer(
    help="Canteen, the backend of a social intranet.",
    no_args_is_help=True,
    # Docstrings are wrapped for the source: markdown joins their lines to fit the terminal.
    rich_markup_mode="markdown",
)
app.add_typer(admin, name="admin")

REPO_ROOT = Path(__file__).resolve().parent.parent
Host = Annotated[str | None, typer.Option(help="bind address (default CANTEEN_HOST)")]
Port = Annotated[int | None, typer.Option(help="port (default CANTEEN_PORT)")]


def _settings() -> CanteenSettings:
    return load_cli_settings()


def _serve(app_factory_name: str, host: str | None, port: int | None, service: str) -> None:
    import uvicorn

    from shared.logging import configure_logging

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(level=settings.log_level, json=settings.json_logs, service=service)
    from canteen import allinone

    application = (
        allinone.create_all_in_one(settings)
        if app_factory_name == "all"
        else allinone.create_single(settings, service)
    )
    allinone.freeze_startup_heap()
    console.print(
        f"[bold]Canteen {service}[/bold] on http://{host or settings.host}:{port or settings.port}"
        f" (backend: {settings.backend}, data: {settings.data_dir})  docs: /docs  Ctrl-C stops"
    )
    uvicorn.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
        # Above the gateway's upstream keepalive_timeout (and HTTP clients' usual 5 s idle
        # expiry): at uvicorn's default of 5 s, a client could send on a connection the
        # server was closing and get "Server disconnected" (seen under the mixed bench).
        timeout_keep_alive=settings.http_keepalive_seconds,
    )


@app.command()
def run(host: Host = None, port: Port = None) -> None:
    """All four services in one process (embedded backends unless configured otherwise)."""
    _serve("all", host, port, "canteen")


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="activity | profiles | search | notify")],
    host: Host = None,
    port: Port = None,
) -> None:
    """One service alone, as the compose stack runs it."""
    from canteen.allinone import SERVICES

    if service not in SERVICES:
        console.print(f"[red]unknown service[/red] {service!r}: choose {', '.join(SERVICES)}")
        raise typer.Exit(2)
    _serve("single", host, port, service)


@app.command()
def engines(
    action: Annotated[str, typer.Argument(help="up | down | status | env")] = "status",
) -> None:
    """Start or stop the native Kafka, OpenSearch and FerretDB used by the integration tests."""
    script = REPO_ROOT / "deploy" / "native" / "engines.sh"
    if not script.exists():
        console.print("engines need a source checkout (deploy/native/engines.sh)")
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call(["bash", str(script), action]))  # noqa: S603, S607


@app.command()
def asyncapi(
    output: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
    check: Annotated[bool, typer.Option(help="exit 1 if OUTPUT is stale")] = False,
) -> None:
    """Generate the AsyncAPI 3.0 document from the event registry."""
    import shared.events.schemas  # noqa: F401 - registers every event type
    from shared.composition import VERSION
    from shared.events import registry
    from shared.events.asyncapi import render

    text = render(registry, version=VERSION)
    if output is None:
        sys.stdout.write(text)
        return
    if check:
        if not output.exists() or output.read_text() != text:
            console.print(f"[red]{output} is stale[/red]: run `make asyncapi`")
            raise typer.Exit(1)
        return
    output.write_text(text)
    console.print(f"wrote {output}")

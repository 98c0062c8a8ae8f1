"""`canteen admin config | replay | reindex`: inspect settings, rewind a group, rebuild an index."""

from __future__ import annotations

from typing import Annotated

import typer

from canteen.admin.common import console, fail, load_cli_settings, run


def register(admin: typer.Typer) -> None:
    admin.command("config")(config)
    admin.command("replay")(replay)
    admin.command("reindex")(reindex)


def config() -> None:
    """Print the effective settings (secrets masked)."""
    settings = load_cli_settings()
    for name, value in settings.model_dump().items():
        console.print(f"CANTEEN_{name.upper()}={value}")


def replay(
    group: Annotated[str, typer.Option(help="consumer group, e.g. search")],
    topic: Annotated[str, typer.Option(help="topic, e.g. canteen.activity")],
    offset: Annotated[int, typer.Option(help="offset to resume from")] = 0,
    partition: Annotated[int | None, typer.Option(help="one partition (default: all)")] = None,
) -> None:
    """Make a stopped consumer group re-read a topic from OFFSET (rebuild a projection).

    Stop the service that owns GROUP first; it re-reads from OFFSET when it starts again.
    """
    from shared.backends import make_bus

    settings = load_cli_settings()

    async def reset() -> None:
        bus = make_bus(settings, "canteen-admin", topics=[])
        await bus.start()
        try:
            await bus.reset_offsets(group=group, topic=topic, offset=offset, partition=partition)
        finally:
            await bus.close()

    run(reset())
    console.print(f"group {group} will resume {topic} at offset {offset}")


def reindex(
    index: Annotated[str, typer.Argument(help="posts | resources | people | groups")],
) -> None:
    """Rebuild a search index from the event history, then swap its alias (no downtime)."""
    from rich.progress import BarColumn, Progress, TextColumn

    from services.search.reindex import ReindexProgress
    from services.search.reindex import reindex as rebuild

    settings = load_cli_settings()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
    ) as bar:
        task = bar.add_task(f"reindex {index}", total=None, detail="starting")

        def show(p: ReindexProgress) -> None:
            bar.update(
                task,
                total=p.total or None,
                completed=p.copied,
                detail=f"{p.phase}: {p.replayed} events replayed, {p.copied} documents copied",
            )

        try:
            final = run(rebuild(settings, index, progress=show))
        except ValueError as exc:
            raise fail(str(exc)) from None
    console.print(f"{index}: alias now points at {final.physical} ({final.copied} documents)")

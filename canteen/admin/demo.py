"""`canteen admin seed-demo`: fill a running stack with the demo company, through its APIs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from canteen.admin.common import console, fail, run

if TYPE_CHECKING:
    from canteen.demo.seeder import SeedReport


def register(admin: typer.Typer) -> None:
    admin.command("seed-demo")(seed_demo)


def seed_demo(
    url: Annotated[
        str, typer.Option(help="base URL of the running stack (the gateway, or `canteen run`)")
    ] = "http://127.0.0.1:8080",
    people: Annotated[int, typer.Option(help="how many people (the company's size)", min=2)] = 60,
    posts: Annotated[int, typer.Option(help="how many posts", min=0)] = 400,
    seed: Annotated[int, typer.Option(help="generator seed: another seed, another company")] = 2026,
    concurrency: Annotated[int, typer.Option(help="requests in flight", min=1, max=64)] = 8,
) -> None:
    """Create a believable demo company in a running stack (dev mode), through its public APIs.

    About 60 people in departments with managers (provisioned over SCIM), 8 groups (2
    private), 400 posts — questions with answers, votes and accepted answers, resources,
    articles, notes — plus comments, reactions, follows and declared skills, so feeds,
    search, expert lists and notifications look alive. Safe to run again: what exists is
    found and left alone, so a second run creates nothing (and an interrupted run resumes).

    The stack must run in dev mode (it signs in as each demo user with POST
    /api/v1/dev/token). Start it with `make run`, then `make demo` in another terminal.
    Try it: `curl -H "Authorization: Bearer $(canteen admin tokens issue demo-admin)"
    localhost:8080/api/v1/search?q=kubernetes`.
    """
    import httpx
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from canteen.demo.client import Api, SeedError
    from canteen.demo.data import build_org
    from canteen.demo.seeder import seed as seed_org

    org = build_org(seed, people=people, posts=posts)

    async def go(show: Progress) -> SeedReport:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = show.add_task(phase, total=total or 1)
            show.update(tasks[phase], completed=done if total else 1)

        async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30.0) as http:
            return await seed_org(Api(http, concurrency=concurrency), org, progress=progress)

    columns = (
        TextColumn("[bold]{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as show:
            report = run(go(show))
    except SeedError as exc:
        raise fail(str(exc), code=1) from None
    except httpx.ConnectError as exc:
        raise fail(f"cannot reach {url}: {exc} (is the stack running? `make run`)", 1) from None
    _summary(report)


def _summary(report: SeedReport) -> None:
    table = Table("what", "created", "already there", title="Demo organisation")
    for kind in report.kinds:
        table.add_row(kind, str(report.created[kind]), str(report.existing[kind]))
    console.print(table)
    total = sum(report.created.values())
    console.print(
        f"created {total} item(s)" if total else "nothing to create: the demo company is there"
    )

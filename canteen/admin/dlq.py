"""`canteen admin dlq list|show|replay|purge`: the dead letters of a topic.

A handler that keeps failing (or an event that can never be handled) ends up in
`<topic>.dlq` with `dlq_error`, `dlq_attempts`, `dlq_group` headers; see
docs/architecture.md "Delivery and ordering guarantees". `shared/bus/dlq.py` does the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from canteen.admin.common import console, fail, quiet_settings, run

if TYPE_CHECKING:
    from shared.bus.dlq import DeadLetter, DeadLetters

T = TypeVar("T")
KNOWN_TOPICS = ("canteen.activity", "canteen.profiles", "canteen.notify", "canteen.search")

dlq = typer.Typer(
    help=(
        "Dead-letter topics: events a consumer could not handle after its retries. "
        "Fix the cause (see `dlq show`), then `dlq replay` them, or `dlq purge` them."
    ),
    no_args_is_help=True,
)

Topic = Annotated[
    str, typer.Argument(help="the topic, e.g. canteen.activity (its .dlq is read); '.dlq' optional")
]
PartitionOpt = Annotated[int | None, typer.Option(help="only this partition")]
Limit = Annotated[int, typer.Option(help="at most this many dead letters", min=1)]


def register(admin: typer.Typer) -> None:
    admin.add_typer(dlq, name="dlq")


def _topic(name: str) -> str:
    return name.removesuffix(".dlq")


async def _with_letters(work: Callable[[DeadLetters], Awaitable[T]]) -> T:
    from shared.backends import make_bus
    from shared.bus.dlq import DeadLetters

    settings = quiet_settings()
    bus = make_bus(settings, "canteen-admin-dlq", topics=[])
    await bus.start()
    letters = DeadLetters(bus)
    try:
        return await work(letters)
    finally:
        await letters.close()
        await bus.close()


@dlq.command("list")
def list_letters(
    topic: Annotated[
        str | None, typer.Argument(help="a topic, e.g. canteen.activity; none: a summary")
    ] = None,
    limit: Limit = 50,
) -> None:
    """Pending dead letters of TOPIC (position, event, failing group, attempts, error).

    Without TOPIC, one line per Canteen topic with its pending count. Positions
    (partition/offset) are what `dlq show` and `dlq replay --partition --offset` take.
    """
    if topic is None:
        summary = run(_with_letters(_summary))
        table = Table("topic", "pending dead letters", title="Dead-letter topics")
        for name, count in summary:
            table.add_row(f"{name}.dlq", str(count), style="yellow" if count else None)
        console.print(table)
        return
    name = _topic(topic)

    async def work(letters: DeadLetters) -> tuple[int, list[DeadLetter]]:
        total = sum(s.pending for s in await letters.states(name))
        return total, await letters.pending(name, limit=limit)

    total, pending = run(_with_letters(work))
    table = Table(
        "partition/offset",
        "event type",
        "event id",
        "group",
        "attempts",
        "error",
        title=f"{name}.dlq: {total} pending",
    )
    for letter in pending:
        table.add_row(
            f"{letter.partition}/{letter.offset}",
            letter.event_type or "(undecodable)",
            letter.event_id or "-",
            letter.group,
            str(letter.attempts),
            letter.error[:80],
        )
    console.print(table)
    if total > len(pending):
        console.print(f"showing {len(pending)} of {total}: raise --limit to see more")


async def _summary(letters: DeadLetters) -> list[tuple[str, int]]:
    return [(t, sum(s.pending for s in await letters.states(t))) for t in KNOWN_TOPICS]


@dlq.command("show")
def show(
    topic: Topic,
    partition: Annotated[int, typer.Option(help="partition of the dead letter")],
    offset: Annotated[int, typer.Option(help="offset of the dead letter")],
) -> None:
    """Every header, the key and the value of one dead letter (pending or not)."""
    name = _topic(topic)

    async def work(letters: DeadLetters) -> DeadLetter | None:
        return await letters.get(name, partition, offset)

    letter = run(_with_letters(work))
    if letter is None:
        raise fail(f"no dead letter at {name}.dlq {partition}/{offset}", code=1)
    table = Table("header", "value", title=f"{name}.dlq {partition}/{offset}", show_lines=False)
    for key in sorted(letter.message.headers):
        table.add_row(key, letter.header(key) or "")
    console.print(table)
    key = letter.message.key.decode("utf-8", "replace") if letter.message.key else "-"
    console.print(f"[bold]key[/bold] {key}")
    console.print("[bold]value[/bold]")
    console.print(letter.message.value.decode("utf-8", "replace"), markup=False, highlight=False)


@dlq.command("replay")
def replay(
    topic: Topic,
    partition: PartitionOpt = None,
    offset: Annotated[int | None, typer.Option(help="only this offset (needs --partition)")] = None,
    limit: Limit = 10_000,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Republish pending dead letters to TOPIC, unchanged, oldest first; then mark them done.

    Run it after fixing what made the handler fail. Every consumer group of TOPIC sees
    the replayed events again (safe: handlers are idempotent on the event id). An event
    that fails again comes back to the dead-letter topic with a new offset.
    """
    name = _topic(topic)
    if offset is not None and partition is None:
        raise fail("--offset needs --partition")

    async def select(letters: DeadLetters) -> list[DeadLetter]:
        if offset is not None and partition is not None:
            one = await letters.get(name, partition, offset)
            return [one] if one is not None else []
        pending = await letters.pending(name, limit=limit)
        return [x for x in pending if partition is None or x.partition == partition]

    chosen = run(_with_letters(select))
    if not chosen:
        console.print(f"nothing to replay in {name}.dlq")
        return
    if not yes and not typer.confirm(f"replay {len(chosen)} dead letter(s) to {name}?"):
        raise typer.Exit(1)

    async def work(letters: DeadLetters) -> int:
        return await letters.replay(chosen)

    count = run(_with_letters(work))
    console.print(f"replayed {count} dead letter(s) to {name}")


@dlq.command("purge")
def purge(
    topic: Topic,
    partition: PartitionOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Mark every pending dead letter of TOPIC as dealt with, without replaying it.

    Nothing is deleted (Kafka retention does that): `dlq list` stops showing them and
    `dlq show` still finds them by position.
    """
    name = _topic(topic)
    if not yes and not typer.confirm(f"purge the pending dead letters of {name}?"):
        raise typer.Exit(1)

    async def work(letters: DeadLetters) -> int:
        return await letters.purge(name, partition=partition)

    count = run(_with_letters(work))
    console.print(f"purged {count} dead letter(s) from {name}.dlq")

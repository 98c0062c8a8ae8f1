"""`canteen admin people republish`: publish every active person's profile again.

The other services keep their own copy of each person from profiles' person events. When
an upgrade adds a field to those events (notify mails to a person's work email since
session 21), the copies get it at each person's next edit; this brings them all up to date
at once. Each active person gets a `person.updated` with their current profile, written to
profiles' outbox; the running profiles service's relay publishes the events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from canteen.admin.common import console, quiet_settings, run

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.settings import CanteenSettings

people = typer.Typer(help="The people directory (the profiles service).", no_args_is_help=True)


def register(admin: typer.Typer) -> None:
    admin.add_typer(people, name="people")


@people.command("republish")
def republish(
    batch: Annotated[int, typer.Option(help="people written per round", min=1, max=1000)] = 200,
) -> None:
    """Publish every active person's current profile again (`person.updated`).

    Run it with the services' CANTEEN_* environment, after an upgrade whose notes ask for
    it, while the profiles service runs (its outbox relay sends the events; `canteen admin
    outbox status` shows them draining). Safe to repeat and to interrupt: consumers apply
    an unchanged profile as a no-op. Deactivated people are left out.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    settings = quiet_settings()
    with Progress(
        TextColumn("[bold]republish people"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        task = bar.add_task("people", total=None)

        def show(done: int, total: int) -> None:
            bar.update(task, total=total, completed=done)

        sent = run(_republish(settings, batch, show))
    console.print(f"{sent} people republished; the profiles relay publishes them now")


async def _republish(
    settings: CanteenSettings, batch: int, show: Callable[[int, int], None]
) -> int:
    from services.profiles.bootstrap import NAME
    from services.profiles.context import ProfilesContext, ProfilesOptions
    from services.profiles.people import people_service
    from shared.backends import make_store

    store = make_store(settings, NAME)
    try:
        service = people_service(ProfilesContext(store=store, options=ProfilesOptions()))
        total = await service.count({"active": True})
        sent, done, after = 0, 0, None
        show(0, total)
        while True:
            round_ = await service.republish(after=after, limit=batch)
            sent, done, after = sent + round_.sent, done + round_.seen, round_.after
            show(min(done, total), total)
            if after is None:
                return sent
    finally:
        await store.close()

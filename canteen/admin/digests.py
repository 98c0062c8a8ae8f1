"""`canteen admin digests send USER...`: queue people's email digests now, before their hour.

For an operator checking mail set-up, or someone who asks for their digest early. The
digest is the one the scheduler would send for the current period (today's, or this
week's), so the scheduled one is then not sent again for that period. The running notify
service's mail worker sends what is queued; this command only queues it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from canteen.admin.common import console, quiet_settings, run

if TYPE_CHECKING:
    from services.notify.email.digest import SentNow
    from shared.settings import CanteenSettings

digests = typer.Typer(help="Email digests.", no_args_is_help=True)
# What could not be queued for a reason an operator must fix (exit code 1).
_REFUSED = ("no email address", "digests off")


def register(admin: typer.Typer) -> None:
    admin.add_typer(digests, name="digests")


@digests.command("send")
def send(
    user_ids: Annotated[list[str], typer.Argument(help="people's ids (the JWT sub)")],
) -> None:
    """Queue each person's digest for the current period now.

    Results: queued; already sent (this period's digest went out, or was queued before);
    nothing to send (the scheduled one still goes out if something arrives); no email
    address; digests off (the person or the organisation turned them off). Exit code 1 if
    any person had no address or digests off.
    """
    settings = quiet_settings()
    results = run(_send(settings, user_ids))
    table = Table("person", "period", "result")
    for sent in results:
        style = "yellow" if sent.result in _REFUSED else None
        table.add_row(sent.user_id, sent.period or "-", sent.result, style=style)
    console.print(table)
    if any(sent.result in _REFUSED for sent in results):
        raise typer.Exit(1)


async def _send(settings: CanteenSettings, user_ids: list[str]) -> list[SentNow]:
    from services.notify.bootstrap import NAME, context
    from services.notify.email import digests_for
    from shared.backends import make_store

    store = make_store(settings, NAME)
    try:
        scheduler = digests_for(context(settings, store))
        return [await scheduler.send_now(user_id) for user_id in user_ids]
    finally:
        await store.close()

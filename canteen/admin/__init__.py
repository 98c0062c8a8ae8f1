"""`canteen admin ...`: the operator's commands, one module per area.

Each module exposes `register(admin)`; heavy imports (drivers, services) happen inside
the commands, so `canteen --help` stays fast and never needs an engine.
"""

from __future__ import annotations

import typer

from canteen.admin import check, demo, digests, dlq, ops, outbox, people, tokens

admin = typer.Typer(
    help=(
        "Operate a Canteen deployment: readiness, dead letters, outboxes, digests, people,"
        " tokens, demo data."
    ),
    no_args_is_help=True,
)
for module in (ops, check, dlq, outbox, digests, people, tokens, demo):
    module.register(admin)

__all__ = ["admin"]

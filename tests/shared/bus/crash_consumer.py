"""A consumer process for the crash test: records what it handles, then hangs to be killed.

argv: bus spec (JSON), group, topic, output file, index of the event to hang on, and
optionally a batch size: then a batch handler of that `max_batch` records each batch's
events once the whole batch is handled, and hangs in the batch holding that event.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from bus_support import build_bus

from shared.bus.port import EventBus
from shared.events.envelope import Event


async def main(
    spec: dict[str, object],
    group: str,
    topic: str,
    sink: TextIO,
    hang_on: int,
    max_batch: int | None,
) -> None:
    bus: EventBus = build_bus(spec)
    await bus.start()

    async def batch(events: Sequence[Event]) -> None:
        numbers = [event.data["n"] for event in events]
        if hang_on in numbers:
            sink.write(f"hang {hang_on}\n")
            sink.flush()
            await asyncio.Event().wait()
        sink.write("".join(f"{n}\n" for n in numbers))
        sink.flush()

    async def handler(event: Event) -> None:
        n = event.data["n"]
        if n == hang_on:
            sink.write(f"hang {n}\n")
            sink.flush()
            await asyncio.Event().wait()
        sink.write(f"{n}\n")
        sink.flush()

    if max_batch is None:
        await bus.consumer(group=group, topics=[topic], handler=handler).run()
    else:
        await bus.consumer(
            group=group, topics=[topic], handler=handler, batch_handler=batch, max_batch=max_batch
        ).run()


if __name__ == "__main__":
    with open(sys.argv[4], "a") as out:
        spec, group, topic, hang_on = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[5]
        size = int(sys.argv[6]) if len(sys.argv) > 6 else None
        asyncio.run(main(spec, group, topic, out, int(hang_on), size))

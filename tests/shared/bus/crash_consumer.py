"""A consumer process for the crash test: records what it handles, then hangs to be killed.

argv: bus spec (JSON), group, topic, output file, index of the event to hang on.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TextIO

from bus_support import build_bus

from shared.bus.port import EventBus
from shared.events.envelope import Event


async def main(spec: dict[str, object], group: str, topic: str, sink: TextIO, hang_on: int) -> None:
    bus: EventBus = build_bus(spec)
    await bus.start()

    async def handler(event: Event) -> None:
        n = event.data["n"]
        if n == hang_on:
            sink.write(f"hang {n}\n")
            sink.flush()
            await asyncio.Event().wait()
        sink.write(f"{n}\n")
        sink.flush()

    await bus.consumer(group=group, topics=[topic], handler=handler).run()


if __name__ == "__main__":
    with open(sys.argv[4], "a") as out:
        spec, group, topic, hang_on = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[5]
        asyncio.run(main(spec, group, topic, out, int(hang_on)))

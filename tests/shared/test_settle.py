"""settle(): the last write carries a value read after every change."""

from __future__ import annotations

import pytest

from shared.settle import settle


class Moved(RuntimeError):
    pass


async def test_writes_what_it_reads_until_a_read_after_the_write_agrees() -> None:
    source = [1]
    writes: list[int] = []

    async def read() -> int:
        return source[0]

    async def write(value: int) -> None:
        writes.append(value)
        if len(writes) == 1:
            source[0] = 2  # another writer's fact lands while we write the old value

    assert await settle(read, write, error=Moved) == 2
    assert writes == [1, 2]


async def test_nothing_is_written_while_reads_agree_with_what_was_written() -> None:
    writes: list[str] = []

    async def read() -> str:
        return "public"

    async def write(value: str) -> None:
        writes.append(value)

    assert await settle(read, write, written="public", error=Moved) == "public"
    assert writes == []
    assert await settle(read, write, written="private", error=Moved) == "public"
    assert writes == ["public"]


async def test_a_value_that_keeps_moving_raises_the_callers_error() -> None:
    counter = [0]

    async def read() -> int:
        counter[0] += 1
        return counter[0]

    async def write(value: int) -> None:
        return None

    with pytest.raises(Moved):
        await settle(read, write, error=Moved, rounds=5)
    assert counter[0] == 5

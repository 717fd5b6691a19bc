"""``cancel_and_wait``: every task is cancelled and finished; a real failure still shows."""

from __future__ import annotations

import asyncio

import pytest

from kinetic.tasks import cancel_and_wait


async def test_cancel_and_wait_cancels_every_task_and_waits_for_its_cleanup() -> None:
    cleaned: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(name)

    a = asyncio.create_task(forever("a"))
    b = asyncio.create_task(forever("b"))
    await asyncio.sleep(0)  # both running
    await cancel_and_wait(a, None, b)
    assert a.cancelled()
    assert b.cancelled()
    assert sorted(cleaned) == ["a", "b"]


async def test_cancel_and_wait_raises_what_a_task_failed_with() -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(boom())
    await asyncio.sleep(0)  # it has failed already
    with pytest.raises(RuntimeError, match="boom"):
        await cancel_and_wait(task)

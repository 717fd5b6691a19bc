"""A clock whose ``sleep`` returns at once after moving time forward (and records it)."""

from __future__ import annotations

import asyncio

from kinetic.clock import ManualClock


class FastClock(ManualClock):
    """Time jumps by every sleep; ``sleeps`` keeps the requested durations."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__(start)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


AutoClock = FastClock  # the name the Kraken tests use

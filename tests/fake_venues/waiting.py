"""Wait for a condition with a deadline (tests wait for conditions, never for time)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_for(cond: Callable[[], object], deadline_seconds: float = 5.0) -> None:
    """Poll ``cond`` on the event loop until it is truthy; fail after the deadline."""
    async with asyncio.timeout(deadline_seconds):
        while not cond():  # noqa: ASYNC110 - conditions span server, client and clock
            await asyncio.sleep(0.005)

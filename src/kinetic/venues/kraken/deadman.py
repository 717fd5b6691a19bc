"""``DeadManSwitch``: keep Kraken's cancel-all-after timer armed while the engine runs.

Kraken recommends a call every 15-30 s with a 60 s timeout (Spot
``CancelAllOrdersAfter``, Futures ``cancelallordersafter``). If the process dies or
loses the network, the venue cancels every open order when the timer runs out.
The refresher task is owned here: named, kept, its failure logged, cancelled on stop.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from kinetic.clock import Clock
from kinetic.logging import get_logger
from kinetic.tasks import cancel_and_wait
from kinetic.venues.base.errors import VenueError


class _Arms(Protocol):
    name: str

    async def set_dead_man_switch(self, timeout_seconds: int) -> None: ...


class DeadManSwitch:
    """Refresh ``venue.set_dead_man_switch(timeout)`` every ``refresh_seconds``."""

    def __init__(
        self, venue: _Arms, clock: Clock, *, timeout_seconds: int = 60, refresh_seconds: float = 20
    ) -> None:
        if refresh_seconds >= timeout_seconds:
            raise ValueError("refresh_seconds must be shorter than timeout_seconds")
        self._venue, self._clock = venue, clock
        self._timeout, self._refresh = timeout_seconds, refresh_seconds
        self._task: asyncio.Task[None] | None = None
        self.refreshes = 0
        self._log = get_logger(venue=venue.name, component="dead_man_switch")

    def start(self) -> None:
        """Start the refresher task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"{self._venue.name}-dead-man")
            self._task.add_done_callback(self._done)

    async def _run(self) -> None:
        while True:
            try:
                await self._venue.set_dead_man_switch(self._timeout)
                self.refreshes += 1
            except VenueError as exc:  # keep trying; the timer still protects us meanwhile
                self._log.warning("dead-man switch refresh failed", error=str(exc))
            await self._clock.sleep(self._refresh)

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error("dead-man switch task died", error=str(task.exception()))

    async def stop(self, *, disarm: bool = True) -> None:
        """Cancel the refresher; with ``disarm`` also switch the venue timer off (0)."""
        await cancel_and_wait(self._task)
        self._task = None
        if disarm:
            await self._venue.set_dead_man_switch(0)

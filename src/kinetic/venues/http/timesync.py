"""Clock-offset sync: venue time = local clock + offset, measured from a server-time call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kinetic.clock import Clock


class ClockOffset:
    """Track the offset between the injected clock and the venue's clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.offset_ms = 0
        self.synced = False

    def now_ms(self) -> int:
        """Return the current venue time estimate in milliseconds."""
        return self._clock.time_ms() + self.offset_ms

    async def sync(self, fetch_server_ms: Callable[[], Awaitable[int]]) -> int:
        """Measure the offset with one server-time call (midpoint of the round trip)."""
        before = self._clock.time_ms()
        server = await fetch_server_ms()
        after = self._clock.time_ms()
        self.offset_ms = server - (before + after) // 2
        self.synced = True
        return self.offset_ms

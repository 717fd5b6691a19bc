"""Injected time. No component reads the wall clock or sleeps directly.

* ``RealClock`` — wall time, ``asyncio.sleep``.
* ``ScaledClock`` — simulated market time running ``speed`` times faster than the wall
  clock from a chosen start instant; used by replay mode.
* ``ManualClock`` — time moves only when ``advance``/``set`` is called; sleepers wake
  when their deadline is reached. Used by tests and the backtester.
* ``block`` — a blocking wait on wall time for synchronous code that runs no event loop
  (the optimize CLI polling a study storage shared with other machines); such code takes
  it as a parameter, as async code takes a clock, and tests pass their own.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def time(self) -> float:
        """Return seconds since the Unix epoch (UTC)."""
        ...

    def now(self) -> datetime:
        """Return the current instant as an aware UTC datetime."""
        ...

    def time_ms(self) -> int:
        """Return milliseconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend for ``seconds`` of this clock's time."""
        ...


class _ClockBase:
    def time(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def time_ms(self) -> int:
        return int(self.time() * 1000)


class RealClock(_ClockBase):
    """Wall-clock time."""

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock(_ClockBase):
    """Simulated time that runs ``speed`` times faster than the wall clock."""

    def __init__(self, start: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self._start = start
        self._speed = speed
        self._anchor = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def time(self) -> float:
        return self._start + (time.monotonic() - self._anchor) * self._speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self._speed)


class ManualClock(_ClockBase):
    """Time advances only when told to; sleepers wake at their deadline."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    def time_ms(self) -> int:
        return int(self._now * 1000)  # as the base class, one call less (backtest hot path)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now + seconds, next(self._seq), fut))
        await fut

    def set(self, t: float) -> None:
        """Jump to ``t`` (may go backwards, to model clock jumps) and wake due sleepers."""
        self._now = t
        while self._waiters and self._waiters[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, f in self._waiters if not f.done())


def block(seconds: float) -> None:
    """Wait ``seconds`` of wall time, blocking the thread (synchronous code only)."""
    time.sleep(max(0.0, seconds))

"""Rate limiting: a venue-wide pause gate, fixed-window weight budgets, a decaying counter.

* ``VenueGate`` — when the venue says stop (HTTP 418 ban, 429 with ``Retry-After``)
  every request of that venue waits until the pause ends; a ban is never cut short.
* ``WindowLimiter`` — Binance-style budgets (request weight per minute, orders per
  10 s / per minute). Windows are aligned to the clock like the venue's; the budget
  is re-synced from response headers (``X-MBX-USED-WEIGHT-1M`` ...) because the venue
  counts every client behind the same IP.
* ``DecayingCounter`` — Kraken-style counter that rises by the call cost and decays
  by ``decay_per_second``; a call waits while the counter would exceed ``max_count``.

All waiting goes through the injected ``Clock``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from kinetic.clock import Clock


class RateLimiter(Protocol):
    """What the HTTP client needs from a limiter."""

    async def acquire(self, weight: float, *, orders: int = 0) -> None:
        """Wait until ``weight`` (and ``orders`` order slots) fit in the budget; take them."""
        ...

    def on_response(self, headers: Mapping[str, str]) -> None:
        """Re-sync the budget from a response's headers (no-op if the venue sends none)."""
        ...


class NoLimit:
    """A limiter that never waits."""

    async def acquire(self, weight: float, *, orders: int = 0) -> None:
        """Return at once."""

    def on_response(self, headers: Mapping[str, str]) -> None:
        """Ignore headers."""

    def usage(self) -> dict[str, tuple[float, float]]:
        """No budget: nothing used."""
        return {}


class VenueGate:
    """A pause shared by every request of one venue (IP ban or rate-limit back-off)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.until = 0.0
        self.banned = False
        self.bans = 0  # IP bans (HTTP 418) since start, for metrics

    def pause(self, seconds: float, *, ban: bool = False) -> None:
        """Block requests for ``seconds`` from now; never shortens an existing pause."""
        self.until = max(self.until, self._clock.time() + max(0.0, seconds))
        self.banned = self.banned or ban
        self.bans += 1 if ban else 0

    @property
    def remaining(self) -> float:
        """Return the seconds left before requests may go out again."""
        return max(0.0, self.until - self._clock.time())

    async def wait(self) -> None:
        """Sleep until the pause is over (re-checking, as it may have been extended)."""
        while (left := self.remaining) > 0:
            await self._clock.sleep(left)
        self.banned = False


@dataclass(frozen=True, slots=True)
class Window:
    """One budget: ``limit`` units per ``seconds``; ``header`` re-syncs it when present."""

    name: str
    seconds: float
    limit: int
    header: str = ""
    counts_orders: bool = False


class _WindowState:
    __slots__ = ("start", "used")

    def __init__(self) -> None:
        self.start = 0.0
        self.used = 0.0


class WindowLimiter:
    """Fixed-window budgets for request weight and order counts."""

    def __init__(self, clock: Clock, windows: list[Window]) -> None:
        self._clock = clock
        self._windows = windows
        self._state = {w.name: _WindowState() for w in windows}

    def used(self, name: str) -> float:
        """Return the units used in the current window of budget ``name``."""
        self._roll(next(w for w in self._windows if w.name == name))
        return self._state[name].used

    def usage(self) -> dict[str, tuple[float, float]]:
        """Every budget's ``(used, limit)`` in its current window (for metrics)."""
        return {w.name: (self.used(w.name), float(w.limit)) for w in self._windows}

    async def acquire(self, weight: float, *, orders: int = 0) -> None:
        """Wait for every affected window to have room, then charge them."""
        while True:
            wait = 0.0
            for w in self._windows:
                cost = orders if w.counts_orders else weight
                st = self._roll(w)
                if cost and st.used + cost > w.limit:
                    wait = max(wait, st.start + w.seconds - self._clock.time())
            if wait <= 0:
                break
            await self._clock.sleep(wait)
        for w in self._windows:
            self._state[w.name].used += orders if w.counts_orders else weight

    def on_response(self, headers: Mapping[str, str]) -> None:
        """Take the venue's count as the truth for windows it reports."""
        lowered = {k.lower(): v for k, v in headers.items()}
        for w in self._windows:
            raw = lowered.get(w.header.lower()) if w.header else None
            if raw is None:
                continue
            try:
                self._roll(w).used = float(raw)
            except ValueError:
                continue

    def _roll(self, w: Window) -> _WindowState:
        st = self._state[w.name]
        start = math.floor(self._clock.time() / w.seconds) * w.seconds
        if start != st.start:
            st.start, st.used = start, 0.0
        return st


class DecayingCounter:
    """Kraken-style call counter: +cost per call, -``decay_per_second`` continuously."""

    def __init__(self, clock: Clock, *, max_count: float, decay_per_second: float) -> None:
        if max_count <= 0 or decay_per_second <= 0:
            raise ValueError("max_count and decay_per_second must be > 0")
        self._clock = clock
        self.max_count = max_count
        self.decay_per_second = decay_per_second
        self._count = 0.0
        self._at = clock.time()

    @property
    def count(self) -> float:
        """Return the counter's current (decayed) value."""
        now = self._clock.time()
        self._count = max(0.0, self._count - (now - self._at) * self.decay_per_second)
        self._at = now
        return self._count

    async def acquire(self, weight: float, *, orders: int = 0) -> None:
        """Wait until adding ``weight`` keeps the counter within ``max_count``."""
        cost = weight + orders
        while (over := self.count + cost - self.max_count) > 0:
            await self._clock.sleep(over / self.decay_per_second)
        self._count += cost

    def on_response(self, headers: Mapping[str, str]) -> None:
        """Kraken sends no counter headers; nothing to sync."""

    def usage(self) -> dict[str, tuple[float, float]]:
        """The counter's ``(value, max_count)`` (for metrics)."""
        return {"counter": (self.count, self.max_count)}

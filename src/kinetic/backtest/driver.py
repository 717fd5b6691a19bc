"""The lock-step driver: publish a bar, step every engine, check global risk.

For each close time, in order: the clock moves just past the close; due funding is
settled; each symbol's bar goes to every engine's SimExchange (which matches resting
orders, stops and liquidations on it) and CandleStore; with ``--fill next_open`` the
venue also sees the next bar's opening price, so market orders fill there; then every
engine runs one scan step (strategy -> risk -> OMS) and one monitor step (fills, exits),
exactly the steps its live loops run. The GlobalRiskMonitor sees the portfolio value at
each close before the engines act on that bar, as the orchestrator's monitor does live.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from kinetic.backtest.data import FundingRates
from kinetic.backtest.options import FillTiming
from kinetic.backtest.world import World
from kinetic.domain import Candle
from kinetic.marketdata.files import CandleArrays
from kinetic.supervisor.risk_monitor import BreakerTrip, RiskAction

DAY_S = 86_400


@dataclass
class Curve:
    """Per-step portfolio value and whether any position was open (after the step)."""

    ts_ms: np.ndarray
    equity: np.ndarray
    exposed: np.ndarray
    n: int = 0

    @classmethod
    def sized(cls, steps: int) -> Curve:
        return cls(
            np.zeros(steps, np.int64), np.zeros(steps, np.float64), np.zeros(steps, np.bool_)
        )

    def add(self, ts_ms: int, equity: float, exposed: bool) -> None:
        self.ts_ms[self.n], self.equity[self.n], self.exposed[self.n] = ts_ms, equity, exposed
        self.n += 1

    def trimmed(self) -> Curve:
        return Curve(self.ts_ms[: self.n], self.equity[: self.n], self.exposed[: self.n], self.n)


CHUNK = 4096


class _Bars:
    """One symbol's columns, converted to Python scalars a chunk at a time.

    Scalar access into numpy arrays is slow and converting whole columns to lists costs
    ~100 MB per 500k bars; chunks of ``CHUNK`` bars give list speed at flat memory.
    """

    def __init__(self, a: CandleArrays) -> None:
        self.symbol = a.symbol
        self.interval_ms = a.interval_ms
        self._a = a
        self._lo = self._hi = 0
        self._cols: tuple[list[Any], ...] = ()

    def _row(self, i: int) -> tuple[int, float, float, float, float, float]:
        if not self._lo <= i < self._hi:
            a, hi = self._a, min(i + CHUNK, len(self._a))
            cols = (a.open_time_ms, a.open, a.high, a.low, a.close, a.volume)
            self._cols = tuple(col[i:hi].tolist() for col in cols)
            self._lo, self._hi = i, hi
        k = i - self._lo
        t, o, h, lo, c, v = (col[k] for col in self._cols)
        return t, o, h, lo, c, v

    def candle(self, i: int) -> Candle:
        t, o, h, lo, c, v = self._row(i)
        return Candle(self.symbol, t, t + self.interval_ms - 1, o, h, lo, c, v)

    def opening_tick(self, i: int) -> Candle:
        """A zero-range bar at bar ``i``'s open: what the venue knows when it opens."""
        t, p = self._row(i)[:2]
        return Candle(self.symbol, t, t, p, p, p, p, 0.0)


def timeline(series: dict[str, CandleArrays]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return close times, symbol index and bar index of every bar, in close order."""
    closes, which, index = [], [], []
    for k, a in enumerate(series.values()):
        closes.append(a.open_time_ms + a.interval_ms - 1)
        which.append(np.full(len(a), k, np.int64))
        index.append(np.arange(len(a), dtype=np.int64))
    close = np.concatenate(closes)
    order = np.argsort(close, kind="stable")
    return close[order], np.concatenate(which)[order], np.concatenate(index)[order]


@dataclass
class Driver:
    """Run one backtest over ``series`` on ``world``."""

    world: World
    series: dict[str, CandleArrays]
    fill: FillTiming = "close"
    funding: FundingRates | None = None
    progress: Callable[[int, int], None] | None = None
    funding_paid: Decimal = Decimal(0)
    trips: list[BreakerTrip] = field(default_factory=list)
    _funding_pos: int = 0
    _last_risk: tuple[float, int] | None = None  # (value, UTC day) of the last risk update

    async def run(self) -> Curve:
        """Drive every bar, then close what is still open at the last close."""
        close, which, index = timeline(self.series)
        bars = [_Bars(a) for a in self.series.values()]
        lengths = [len(a) for a in self.series.values()]
        for slot in self.world.slots:
            await slot.engine.startup()
        curve = Curve.sized(len(close) + 1)
        n, i = len(close), 0
        while i < n:
            j = i + 1
            while j < n and close[j] == close[i]:
                j += 1
            group = [(bars[w], int(index[k]), lengths[w]) for k in range(i, j)
                     if (w := int(which[k])) >= 0]  # fmt: skip
            curve.add(int(close[i]), *await self._step(int(close[i]), group, last=j == n))
            if self.progress is not None:
                self.progress(j, n)
            i = j
        await self._close_out()
        curve.add(int(close[-1]) if n else 0, *self._mark())
        return curve.trimmed()

    async def _step(
        self, close_ms: int, group: list[tuple[_Bars, int, int]], last: bool
    ) -> tuple[float, bool]:
        self.world.clock.set((close_ms + 1) / 1000.0)
        self._settle_funding(close_ms)
        for bars, i, _ in group:
            candle = bars.candle(i)
            for slot in self.world.slots:
                slot.venue.on_candle(candle)
                slot.store.add(candle)
        if self.fill == "next_open":
            for bars, i, length in group:
                if i + 1 < length:
                    tick = bars.opening_tick(i + 1)
                    for slot in self.world.slots:
                        slot.venue.on_candle(tick)
        # the value at this close reaches the risk monitor before any engine acts on it
        await self._check_risk(self._mark()[0])
        for slot in self.world.slots:
            if not (last and self.fill == "next_open"):  # no next open to fill at
                await slot.engine.scan_once()
            await slot.engine.monitor_once()
        return self._mark()

    async def _check_risk(self, value: float) -> None:
        """The orchestrator's risk step: feed the value, react to a trip as live does.

        Skipped when the portfolio value and the UTC day are unchanged and no breaker is
        in force: the monitor would compute exactly what it computed last time.
        """
        orch = self.world.orchestrator
        monitor = orch.risk_monitor
        key = (value, int(self.world.clock.time()) // DAY_S)
        if key == self._last_risk and not monitor.circuit_breaker_active:
            return
        self._last_risk = key
        trip = monitor.update(value)
        if trip is None:
            return
        self.trips.append(trip)
        rec = self.world.recorder
        await rec.record_event(
            "circuit_breaker", trip.reason, None, {"action": str(trip.action), "until": trip.until}
        )
        if trip.action is RiskAction.CLOSE_ALL:
            for slot in self.world.slots:
                closed = await slot.engine.close_all_positions("global drawdown limit")
                await rec.record_event("close_all", f"{slot.name}: closed {closed} positions",
                                       slot.name)  # fmt: skip

    def _settle_funding(self, now_ms: int) -> None:
        rates = self.funding
        if rates is None:
            return
        while self._funding_pos < len(rates) and rates.ts_ms[self._funding_pos] <= now_ms:
            rate = Decimal(repr(float(rates.rate[self._funding_pos])))
            self._funding_pos += 1
            for slot in self.world.slots:
                if slot.name != "futures":
                    continue
                for symbol in list(slot.engine.d.positions.positions):
                    paid = slot.venue.apply_funding(symbol, rate)
                    slot.engine.d.positions.apply_funding(-paid)
                    self.funding_paid += paid

    def _mark(self) -> tuple[float, bool]:
        """Return the portfolio value (as the orchestrator sums it) and the exposure flag."""
        equity = Decimal(0)
        exposed = False
        for s in self.world.slots:
            pm = s.engine.d.positions
            if pm.positions:
                exposed = True
                equity += s.engine.equity()
            else:
                equity += pm.cash  # flat: equity is the cash, no prices needed
        return float(equity), exposed

    async def _close_out(self) -> None:
        """Close every open position at the last bar's close (plus slippage and fee)."""
        for slot in self.world.slots:
            await slot.engine.close_all_positions("end_of_data")
            await slot.engine.monitor_once()


def tty_progress(total_hint: int) -> Callable[[int, int], None] | None:
    """A progress bar on stderr, only when stderr is a terminal and the run is long."""
    if not sys.stderr.isatty() or total_hint < 50_000:
        return None
    state = {"shown": -1}

    def show(done: int, total: int) -> None:
        pct = done * 100 // total
        if pct == state["shown"]:
            return
        state["shown"] = pct
        bar = "#" * (pct // 2)
        sys.stderr.write(f"\rbacktest [{bar:<50}] {pct:3d}% {done}/{total} bars")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show

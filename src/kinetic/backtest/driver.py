"""The lock-step driver: publish a bar, step every engine, check global risk.

For each close time, in order: the clock moves just past the close; due funding is
settled; each symbol's bar goes to every engine's SimExchange (which matches resting
orders, stops and liquidations on it) and CandleStore; with ``--fill next_open`` the
venue also sees the next bar's opening price, so market orders fill there; then every
engine runs one scan step (strategy -> risk -> OMS) and one monitor step (fills, exits),
exactly the steps its live loops run. The GlobalRiskMonitor sees the portfolio value at
each close before the engines act on that bar, as the orchestrator's monitor does live.

Fast-forward (``skip=True``, the default): a stretch of bars on which provably nothing
can happen is not stepped (see ``Driver._skippable``): no strategy could give a signal
its engine would act on in its current position (``ActionBars``, ``skipping``), no
price level of an open position can be reached. Its curve values are computed with the
same float operations as a step, the risk monitor is brought to the state stepping
would have left, open futures positions take the best price the skipped bars gave, and
each strategy fast-forwards its own state exactly. A strategy that declares nothing
(neither ``ActionBars`` nor ``FastForward``) is stepped on every bar.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from kinetic.backtest.affordable import Acting
from kinetic.backtest.bars import Bars
from kinetic.backtest.data import FundingRates
from kinetic.backtest.options import AtEnd, FillTiming
from kinetic.backtest.skipping import ActionIndex, Kind, can_skip
from kinetic.backtest.stepper import step_every_bar
from kinetic.backtest.stretch import (
    _FLOATS,
    MARGIN,
    CurveFill,
    Stretch,
    as_float,
    exact_extremes,
    levels_clear_until,
    only_stops,
    position_value,
    stretch_values,
)
from kinetic.backtest.world import World
from kinetic.domain import MarketType, Position, PositionSide
from kinetic.marketdata.files import CandleArrays
from kinetic.risk.manager import HELD_CODE
from kinetic.supervisor.risk_monitor import BreakerTrip, RiskAction

DAY_S = 86_400
DAY_MS = DAY_S * 1000
MAX_RUN = 4096  # groups examined per skip decision (bounds the work of a refused one)
# enum members as module globals: on Python 3.11 an attribute of an Enum class goes
# through ``EnumType.__getattr__``'s hook (~150 instructions), a global is one lookup
_SPOT, _FUTURES, _LONG = MarketType.SPOT, MarketType.FUTURES, PositionSide.LONG


def _clock(close_ms: Any) -> float:
    """A group's clock, as ``_step`` sets it (``(close + 1) / 1000``)."""
    return float((close_ms + 1) / 1000.0)


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


_Stretch = Stretch


def timeline(series: dict[str, CandleArrays]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return close times, symbol index and bar index of every bar, in close order."""
    # int32 symbol and bar indexes: these columns are as long as the run (peak RSS)
    closes, which, index = [], [], []
    for k, a in enumerate(series.values()):
        closes.append(a.open_time_ms + a.interval_ms - 1)
        which.append(np.full(len(a), k, np.int32))
        index.append(np.arange(len(a), dtype=np.int32))
    if len(closes) == 1:  # one symbol: already in close order
        return closes[0], which[0], index[0]
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
    skip: bool = True  # fast-forward over provably quiet bars (False: every bar is stepped)
    skipped: int = 0  # bars fast-forwarded instead of stepped
    at_end: AtEnd = "close"  # open positions after the last bar: close, open or keep
    _funding_pos: int = 0
    _forwarders: list[Any] = field(default_factory=list)  # ActionBars or FastForward
    _hold_until: int = 0  # no skipping before this group (the risk check refused a run)
    _last_risk: tuple[float, int] | None = None  # (value, UTC day) of the last risk update
    _index: ActionIndex | None = None  # where the strategies could act (None: no skipping)
    _acting: Acting | None = None  # ``_index`` narrowed to the entries an account affords
    _arrays: list[CandleArrays] = field(default_factory=list)
    _symbols: list[str] = field(default_factory=list)
    _monitor: Any = None  # the orchestrator's GlobalRiskMonitor (read once per stretch)
    _nan_free: dict[int, bool] = field(default_factory=dict)  # per symbol: no nan close
    # the skipped stretches' curve values (made again by ``run`` for its curve)
    _fill: CurveFill = field(default_factory=lambda: CurveFill(np.zeros(0), np.zeros(0), None))
    _close_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per group
    # per symbol: ``stretch.coarse_extremes`` of its bars, made on first use
    _coarse: dict[int, tuple[list[float], list[float]] | None] = field(default_factory=dict)
    # per symbol: ``coarse_extremes`` of its closes (``stretch_values``' bounds)
    _close_blocks: dict[int, tuple[list[float], list[float]] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._arrays = list(self.series.values())
        self._symbols = list(self.series)
        self._monitor = self.world.orchestrator.risk_monitor

    async def run(self) -> Curve:
        """Drive every bar, then close what is still open at the last close."""
        close, which, index = timeline(self.series)
        bars = [Bars(a) for a in self.series.values()]
        lengths = [len(a) for a in self.series.values()]
        for slot in self.world.slots:
            await slot.engine.startup()
        n = len(close)
        starts = np.flatnonzero(np.r_[True, close[1:] != close[:-1]]) if n else np.zeros(0, int)
        starts = starts.astype(np.int32)
        ends = np.r_[starts[1:], n].astype(np.int32)
        self._index = self._action_index(close, which, index, starts) if self.skip else None
        # allocated after the action masks, whose temporaries make the run's peak RSS
        curve = Curve.sized(len(starts) + 1)
        curve.ts_ms[: len(starts)] = close[starts]  # one curve point per group
        self._close_ms = curve.ts_ms[: len(starts)]  # a view: each group's close time
        # skipped stretches' values, written in batches (curve point k is group k)
        one = self._arrays[0].close if len(self._arrays) == 1 else None
        self._fill = CurveFill(curve.equity, curve.exposed, one)
        static_end = self._index.static_end if self._index is not None else None
        g, groups = 0, len(starts)
        if static_end is None and len(bars) == 1 and groups == n:
            await step_every_bar(self, bars[0], close, curve)  # ``_step`` inline
            g = groups
        step_next = False  # a stretch ended where something can happen: step that group
        while g < groups:
            if static_end is not None and not step_next and g >= self._hold_until:
                end = static_end.item(g)  # .item(): a Python int, no numpy scalar
                if end > g:
                    cap = g + MAX_RUN
                    stretch = self._skippable(g, end if end < cap else cap)
                    if stretch is not None:
                        self._fast_forward(stretch, which, index, starts, ends, curve)
                        g = stretch.h
                        step_next = g < cap  # cut by MAX_RUN only: the next group may skip
                        if self.progress is not None:
                            self.progress(ends.item(g - 1), n)
                        continue
            step_next = False
            i, j = starts.item(g), ends.item(g)
            if j - i == 1:  # one bar (one symbol): no list comprehension
                w = which.item(i)
                group = [(bars[w], index.item(i), lengths[w])] if w >= 0 else []
            else:
                group = [(bars[w], index.item(k), lengths[w]) for k in range(i, j)
                         if (w := which.item(k)) >= 0]  # fmt: skip
            # ``curve.add``, inline: its close time is already in ``curve.ts_ms``
            value, exposed = await self._step(close.item(i), group, last=j == n)
            k = curve.n
            curve.equity[k], curve.exposed[k] = value, exposed
            curve.n = k + 1
            if self.progress is not None:
                self.progress(j, n)
            g += 1
        self._fill.flush()
        await self._close_out(bars, lengths)
        curve.add(int(close[-1]) if n else 0, *self._mark())
        return curve.trimmed()

    # ------------------------------------------------------------------ fast-forward
    def _action_index(
        self, close: np.ndarray, which: np.ndarray, index: np.ndarray, starts: np.ndarray
    ) -> ActionIndex | None:
        """Where each engine's strategy could act (None: some strategy does not say)."""
        strategies = [slot.engine.d.strategy for slot in self.world.slots]
        if len(starts) == 0 or not all(can_skip(s) for s in strategies):
            return None
        self._forwarders = list(strategies)
        built = ActionIndex.build(strategies, self.series, close, which, index, starts,
                                  self.funding)  # fmt: skip
        self._acting = Acting(built, self.world, self.series, self.fill == "next_open", MARGIN)
        return built

    def _skippable(self, g: int, h: int) -> _Stretch | None:
        """Return the stretch ``g..k-1`` (``k <= h``) that can be skipped now, or None.

        Nothing can happen on a skipped bar because: no engine's strategy could give a
        signal its engine would act on (``ActionIndex``: the side that matters depends on
        the position); every engine is settled (no close in flight or to retry, no stop
        missing or to re-place, no trailing stop active); the only orders resting on the
        venues and open in the OMSes are the open positions' protective stops; no bar
        reaches a position's stop, take-profit, resting stop, liquidation price or
        trailing activation (with a margin). While a breaker holds entries, a flat
        engine's signals do not count and the stretch ends before the breaker expires;
        a breaker that expired but was not cleared yet is stepped. The risk monitor
        must not trip on any value of the stretch (``_risk_quiet``); if it might, the
        whole run is stepped.
        """
        monitor = self._monitor
        held_entries = False  # ``breaker_in_force`` is False with neither of these set
        if monitor.drawdown_latched or monitor.circuit_breaker_active:
            held_entries = monitor.breaker_in_force()  # no engine can open anything
            if held_entries and monitor.circuit_breaker_active:
                until = monitor.circuit_breaker_until
                if until is not None:  # the breaker expires on the first group at or after
                    h = min(h, bisect_left(self._close_ms, until, key=_clock))
            elif monitor.circuit_breaker_active:
                return None  # expired, not cleared yet: the next update clears it
        held: list[tuple[Any, int, Position]] = []
        h = self._signals_quiet_until(g, h, held_entries, held)
        if h <= g:
            return None
        for slot, w, pos in held:
            h = self._levels_clear_until(slot, w, pos, g, h)
        if h <= g:
            return None
        stretch = self._values(g, h, held)
        # bounds of the extremes first (a lower low, a higher high: quiet with them is
        # quiet with the extremes); the extremes themselves when they are not quiet
        if not self._risk_quiet(stretch.low, stretch.high) and (
            stretch.bounded < 0 or not self._risk_quiet(*exact_extremes(self, stretch))
        ):
            self._hold_until = h
            return None
        return stretch

    def _signals_quiet_until(
        self, g: int, h: int, held_entries: bool, held: list[tuple[Any, int, Position]]
    ) -> int:
        """The first group in ``g..h`` where a signal could make an engine act (``g``:
        an engine is not settled or has other orders than its stops); fills ``held``."""
        acting = self._acting
        assert acting is not None
        index, narrows = acting.index, acting.narrows
        symbols = self._symbols
        # the action index first: it is a lookup, and a strategy that acts often refuses
        # most stretches right there; the engines' order books are read only after it
        for k, slot in enumerate(self.world.slots):
            engine = slot.engine
            book = engine.d.positions.positions
            futures = engine.market is _FUTURES
            for w, symbol in enumerate(symbols):
                pos = book.get(symbol)
                if pos is not None:
                    kind: Kind = "short" if pos.side is _LONG else "long"
                    held.append((slot, w, pos))
                    # held: ``Acting.next_act`` is the action index's answer
                    first = index.next_act(k, w, kind, g)
                elif held_entries and engine.d.risk.last_refusal(symbol) == HELD_CODE:
                    # a flat engine's signal while a breaker holds entries is refused, and
                    # counted once per episode: once this symbol's last refusal is the
                    # breaker's, further signals change nothing (the first one is stepped)
                    continue
                else:
                    kind = "any" if futures else "long"
                    if narrows[k][w] and not held_entries:
                        first = acting.next_act(k, w, kind, g, h, True)
                    else:  # what ``Acting.next_act`` answers then
                        first = index.next_act(k, w, kind, g)
                if first <= g:
                    return g
                if first < h:
                    h = first
        for slot in self.world.slots:
            if not slot.engine.settled() or not self._only_stops(slot):
                return g
        return h

    _only_stops = staticmethod(only_stops)

    _levels_clear_until = levels_clear_until

    _values = stretch_values

    def _risk_quiet(self, low: float, high: float) -> bool:
        """True when no value of a stretch (lowest ``low``, highest ``high``) can trip a
        breaker, in any order.

        The monitor's own predicates (``would_trip``, no state change) decide on the
        worst case of the stretch: the highest value as the peak and the lowest as the
        current value, both moved by a small margin against us.
        """
        monitor = self._monitor
        if not (low > 0 and math.isfinite(high)) or monitor.day is None:
            return False
        peak = monitor.peak_portfolio_value
        if high > peak:  # ``max(peak, high)``, without the builtin's call
            peak = high
        return not monitor.would_trip(peak * (1 + MARGIN), low * (1 - MARGIN))

    def _fast_forward(
        self,
        stretch: _Stretch,
        which: np.ndarray,
        index: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        curve: Curve,
    ) -> None:
        """Skip the stretch's groups: curve values, risk monitor, positions, strategies."""
        g, h = stretch.g, stretch.h
        # curve point k is group k; curve.ts_ms already holds every group's close time
        if stretch.values is not None:
            curve.equity[g:h] = stretch.values
            curve.exposed[g:h] = stretch.held
        elif stretch.held:  # ``scale * close + base``, computed in ``_fill``'s batches
            self._fill.held(g, h, stretch.scale, stretch.base)
        else:
            self._fill.flat(g, h, stretch.low)  # flat: exposed stays False
        curve.n += h - g
        # the monitor's state after feeding each value (same day, no trip, no breaker)
        # equals its state after the highest value and then the last one; and feeding
        # the highest leaves what the last one's update does not set again: the peak,
        # ``max(peak, high)`` (no trip on either, ``_risk_quiet``). One update, then.
        monitor = self._monitor
        high = stretch.high
        if high > monitor.peak_portfolio_value:  # (a bound of it: the highest value?)
            if stretch.bounded >= 0:
                high = exact_extremes(self, stretch)[1]
            if high > monitor.peak_portfolio_value:
                monitor.peak_portfolio_value = high
        last = stretch.last
        monitor.update(last)
        self._last_risk = (last, int(self.world.clock.time()) // DAY_S)
        action = self._index
        assert action is not None
        if action.identity:  # bar i is group i
            self.skipped += h - g
        else:
            self.skipped += ends.item(h - 1) - starts.item(g)
        self._forward_bars(action, g, h)

    def _forward_bars(self, action: ActionIndex, g: int, h: int) -> None:
        """Each symbol's skipped bars to the engines that follow them, and to every
        strategy's ``fast_forward``."""
        slots = self.world.slots
        identity = action.identity  # bar i is group i: ``action.bars`` is ``(g, h)``
        for w, (symbol, arrays) in enumerate(self.series.items()):
            first, stop = (g, h) if identity else action.bars(w, g, h)
            if stop <= first:
                continue
            for slot in slots:
                engine = slot.engine
                if not engine.follows_skipped_bars:
                    continue
                pos = engine.d.positions.positions.get(symbol)
                if pos is not None:
                    high = float(arrays.high[first:stop].max())
                    low = float(arrays.low[first:stop].min())
                    engine.skipped_bars(pos, high, low)
            for strategy in self._forwarders:
                strategy.fast_forward(symbol, arrays, first, stop)

    async def _step(
        self, close_ms: int, group: list[tuple[Bars, int, int]], last: bool
    ) -> tuple[float, bool]:
        world = self.world
        slots = world.slots
        now = (close_ms + 1) / 1000.0
        world.clock.set(now)
        if self.funding is not None:
            self._settle_funding(self.funding, close_ms)
        next_open = self.fill == "next_open"
        self._publish(group, next_open)
        # the value at this close reaches the risk monitor before any engine acts on it
        value = self._marked(None)[0]
        # ``_risk_changed``, inline (``now`` is the clock's time)
        if (value, int(now) // DAY_S) != self._last_risk or self._monitor.circuit_breaker_active:
            await self._check_risk(value)
        scan = not (last and next_open)  # no next open to fill at
        for slot in slots:
            engine = slot.engine
            if scan:
                await engine.scan_once()
            if not engine.idle_monitor_step():  # a flat idle engine: cursors only
                await engine.monitor_once()
        return self._marked(None)

    def _publish(self, group: list[tuple[Bars, int, int]], next_open: bool) -> None:
        """Each bar to every venue and store; with ``next_open`` the next bar's open too."""
        slots = self.world.slots
        if len(group) == 1 and len(slots) == 1:  # the usual group: the loops below, unrolled
            (bars, i, length), (slot,) = group[0], slots
            venue = slot.venue
            candle = bars.candle(i)
            venue.on_candle(candle)
            slot.store.add(candle)
            if next_open and i + 1 < length:
                venue.on_candle(bars.opening_tick(i + 1))
            return
        for bars, i, _ in group:
            candle = bars.candle(i)
            for slot in slots:
                slot.venue.on_candle(candle)
                slot.store.add(candle)
        if next_open:
            for bars, i, length in group:
                if i + 1 < length:
                    tick = bars.opening_tick(i + 1)
                    for slot in slots:
                        slot.venue.on_candle(tick)

    async def _check_risk(self, value: float) -> None:
        """The orchestrator's risk step: feed the value, react to a trip as live does.

        Called only when ``_risk_changed``: otherwise the monitor would compute exactly
        what it computed last time.
        """
        orch = self.world.orchestrator
        self._last_risk = (value, int(self.world.clock.time()) // DAY_S)
        trip = orch.risk_monitor.update(value)
        if trip is not None:
            await self._tripped(trip)

    async def _tripped(self, trip: BreakerTrip) -> None:
        """React to a breaker trip as the orchestrator does live: record it, close all."""
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

    def _risk_changed(self, value: float) -> bool:
        """False when the value and the UTC day are those of the last update and no
        breaker is in force: the monitor would compute exactly what it did then."""
        key = (value, int(self.world.clock.time()) // DAY_S)
        return key != self._last_risk or self._monitor.circuit_breaker_active

    def _settle_funding(self, rates: FundingRates, now_ms: int) -> None:
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
        """Return the portfolio value at the last closes and whether anything is held."""
        return self._marked(None)

    def _marked(self, price: float | None) -> tuple[float, bool]:
        """The value with ``price`` as every held symbol's close (None: each symbol's last
        close in its engine's store, its entry price before any candle), and whether
        anything is held. Float64 from the exact books: each engine's cash plus, per
        position, ``position_value``; ``_values`` reproduces it bit for bit when skipping."""
        value, exposed = 0.0, False
        floats = _FLOATS
        for slot in self.world.slots:
            pm = slot.engine.d.positions
            cash = pm.cash
            hit = floats.get(id(cash))  # ``as_float``'s lookup, inline: twice per step
            value += hit[1] if hit is not None and hit[0] is cash else as_float(cash)
            if not pm.positions:
                continue
            exposed = True
            spot = pm.market is _SPOT
            for symbol, pos in pm.positions.items():
                at = price
                if at is None:
                    last = slot.store.last(symbol)
                    at = last.close if last is not None else float(pos.entry_price)
                if spot:  # ``position_value``'s spot case, inline (the same operations)
                    qty = pos.quantity
                    hit = floats.get(id(qty))
                    value += (hit[1] if hit is not None and hit[0] is qty else as_float(qty)) * at
                else:
                    value += position_value(pm.market, pos, at)
        return value, exposed

    async def _close_out(self, bars: list[Bars], lengths: list[int]) -> None:
        """Close every open position at the last bar's close (plus slippage and fee).

        ``at_end="open"``: at the last bar's open instead (the venue is shown that bar's
        opening price again: backtesting.py's ``finalize_trades``); ``"keep"``: leave
        them open, valued at the last close (backtrader's final value).
        """
        if self.at_end == "keep":
            return
        if self.at_end == "open":
            for b, length in zip(bars, lengths, strict=True):
                if length:
                    tick = b.opening_tick(length - 1)
                    for slot in self.world.slots:
                        slot.venue.on_candle(tick)
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

"""Smart Money Concepts over a whole series at once (backtests): what ``smc._SymbolState``
would hold after every bar, computed with numpy over events instead of bar by bar.

``SMCPlan.build`` reads a symbol's columns once and gives:

* fractal swings (``SwingDetector``): a bar is a swing high when its high is strictly
  above the ``n`` highs before it and not below the ``n`` after it, confirmed ``n`` bars
  later; vectorised over shifted copies of the columns;
* market structure (``MarketStructure``): the swing high in force on a bar is the last
  one confirmed at or before it; it breaks on the first close above it before the next
  swing high is confirmed (a first-true search per swing); lows mirrored, except on a
  bar where a high broke (``on_close`` checks the high first). BOS or CHoCH is the side
  of the previous break: the one sequential step, over breaks only;
* higher-timeframe bars (``HTFAggregator``): runs of base bars of one bucket, cut after a
  bar that closes the bucket; a run that a later bucket cuts is emitted on that later
  bar; then swings and structure over the HTF bars as above, the trend per base bar;
* zones: fair value gaps (three-bar shifts) and order blocks (the last opposite candle of
  the ten before each break); each zone's *natural* end is its first mitigating close
  within ``zone_max_age`` bars (a first-true search over 16-bar block extremes); the
  list bound (``MAX_ZONES``, oldest dropped first) is a short loop over the bars that
  create zones;
* per bar, the direction ``on_candle`` returns (``directions``): the components of
  ``score_smc`` as arrays, the zone touch over (zone, candidate bar) pairs.

Every value is the same IEEE operation on the same floats as the per-bar code (the
comparisons, ``retracement``'s subtraction and division), so the directions are exact,
not a superset. ``restore`` rebuilds a live state at any bar from the plan: what
``fast_forward`` needs instead of feeding the skipped bars. A series the plan cannot
describe exactly (a non-finite price, open times not increasing) gets no plan; the
strategy then falls back to the shadow replay (``replay``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kinetic.domain import Candle, Direction
from kinetic.strategy.replay import bar_candles
from kinetic.strategy.structure import StructureEvent, Swing, Zone

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays

NEVER = np.iinfo(np.int64).max // 4  # a break or an end that does not come
I64 = np.ndarray
OTE = (0.618, 0.786)
OB_BARS = 10  # an order block is one of the ten bars before the break
INDICATORS_READY = 28  # ADXState(14) has a value from its 28th bar, ATRState(14) its 14th
BLOCK = 16  # bars per block in the mitigation search
ZONE_CHUNK = 1 << 14  # zones searched at a time (bounds the temporaries)
BAR_CHUNK = 1 << 16  # bars scored at a time


@dataclass(frozen=True, slots=True)
class Structure:
    """Swings and breaks of one series of bars (base or HTF), by position in it."""

    sh_mid: I64  # swing highs: the position of the swing bar (ascending)
    sh_conf: I64  # the position that confirms it (mid + n)
    sh_price: np.ndarray
    sh_break: I64  # the position whose close breaks it (NEVER: none does)
    sl_mid: I64  # swing lows, mirrored
    sl_conf: I64
    sl_price: np.ndarray
    sl_break: I64
    ev_pos: I64  # the breaks in order: position, side (+1 / -1), CHoCH, level
    ev_side: np.ndarray
    ev_choch: np.ndarray
    ev_level: np.ndarray


def swing_points(high: np.ndarray, low: np.ndarray, n: int) -> tuple[I64, I64]:
    """Positions of the fractal swing highs and lows of ``n`` bars (``SwingDetector``)."""
    m = len(high)
    if m < 2 * n + 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    hm, lm = high[n : m - n], low[n : m - n]
    is_high = np.ones(m - 2 * n, np.bool_)
    is_low = np.ones(m - 2 * n, np.bool_)
    for k in range(1, n + 1):
        is_high &= hm > high[n - k : m - n - k]  # strictly above the bars before
        is_high &= hm >= high[n + k : m - n + k]  # not below the bars after
        is_low &= lm < low[n - k : m - n - k]
        is_low &= lm <= low[n + k : m - n + k]
    return np.flatnonzero(is_high) + n, np.flatnonzero(is_low) + n


def _breaks(
    close: np.ndarray, conf: I64, price: np.ndarray, up: bool, blocked: np.ndarray | None
) -> tuple[I64, np.ndarray]:
    """Per swing, the first position at or after its confirmation, before the next
    swing's, whose close goes beyond it (NEVER: none); and the mask of those positions."""
    m = len(close)
    broken = np.zeros(m, np.bool_)
    brk = np.full(len(conf), NEVER, np.int64)
    if len(conf) == 0:
        return brk, broken
    mark = np.zeros(m, np.int32)
    mark[conf] = 1
    active = np.cumsum(mark, dtype=np.int32) - 1  # the swing in force (-1: none yet)
    level = price[np.maximum(active, 0)]
    cond = (close > level) if up else (close < level)
    cond &= active >= 0
    if blocked is not None:
        cond &= ~blocked
    pos = np.flatnonzero(cond)
    swing = active[pos]
    first = np.r_[True, swing[1:] != swing[:-1]] if len(pos) else np.zeros(0, np.bool_)
    brk[swing[first]] = pos[first]
    broken[pos[first]] = True
    return brk, broken


def structure(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> Structure:
    """Swings and BOS/CHoCH of a series of bars (``SwingDetector`` + ``MarketStructure``)."""
    hmid, lmid = swing_points(high, low, n)
    hconf, lconf = hmid + n, lmid + n
    hprice, lprice = high[hmid], low[lmid]
    hbrk, hmask = _breaks(close, hconf, hprice, True, None)
    lbrk, lmask = _breaks(close, lconf, lprice, False, hmask)  # the high is checked first
    side = hmask.astype(np.int8) - lmask.astype(np.int8)
    ev_pos = np.flatnonzero(side)
    ev_side = side[ev_pos]
    # the level broken: the swing in force at the break
    levels = np.empty(len(ev_pos))
    hk = np.searchsorted(hconf, ev_pos, side="right") - 1
    lk = np.searchsorted(lconf, ev_pos, side="right") - 1
    up = ev_side > 0
    levels[up] = hprice[hk[up]]
    levels[~up] = lprice[lk[~up]]
    prev = np.r_[np.int8(0), ev_side[:-1]]
    choch = prev == -ev_side
    return Structure(hmid, hconf, hprice, hbrk, lmid, lconf, lprice, lbrk,
                     ev_pos, ev_side, choch, levels)  # fmt: skip


def _at(values: np.ndarray, idx: I64, default: float | bool) -> np.ndarray:
    """``values[idx]`` where ``idx >= 0``, else ``default``."""
    if len(values) == 0:
        return np.full(len(idx), default)
    return np.asarray(np.where(idx >= 0, values[np.maximum(idx, 0)], default))


@dataclass(frozen=True, slots=True)
class HTF:
    """Closed higher-timeframe bars: base bars ``start..end-1``, emitted on ``emit``."""

    span: int  # ms per HTF bucket
    group_start: I64  # every run of base bars (the last one may still be open)
    group_emit: I64  # the base bar on which each run is emitted (NEVER: not yet)
    start: I64  # the emitted HTF bars (a prefix of the runs): base bars start..end-1
    end: I64
    emit: I64
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    structure: Structure


def htf_bars(arrays: CandleArrays, factor: int, n: int) -> HTF:
    """The ``HTFAggregator`` bars of ``arrays`` and their structure (swings of ``n``)."""
    t = arrays.open_time_ms
    m = len(t)
    span = arrays.interval_ms * factor
    bucket = t // span
    # the bar's close time reaches the bucket's: t + interval - 1 >= bucket * span + span - 1
    closes = t % span >= span - arrays.interval_ms
    cut = np.ones(m, np.bool_)
    cut[1:] = (bucket[1:] != bucket[:-1]) | closes[:-1]
    gs = np.flatnonzero(cut)
    ge = np.r_[gs[1:], m].astype(np.int64)
    emit = np.where(closes[ge - 1], ge - 1, ge) if m else np.zeros(0, np.int64)
    emit = np.where(emit < m, emit, NEVER)
    q = int(np.searchsorted(emit, m))  # runs emitted (they are a prefix)
    if q:
        high = np.maximum.reduceat(arrays.high, gs)[:q]  # every run: the last one ends
        low = np.minimum.reduceat(arrays.low, gs)[:q]  # at the series' end, not at ge
        close = arrays.close[ge[:q] - 1]
    else:
        high = low = close = np.zeros(0)
    return HTF(span, gs, emit, gs[:q], ge[:q], emit[:q], high, low, close,
               structure(high, low, close, n))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Zones:
    """Every zone in list order (bar, then OB before FVG) and the bar that removes it."""

    bar: I64
    ob: np.ndarray  # bool: order block (else fair value gap)
    long: np.ndarray  # bool: demand (LONG) zone
    low: np.ndarray
    high: np.ndarray
    end: I64  # removed during this bar's update (mitigated, too old or pushed out)


def _order_blocks(arrays: CandleArrays, s: Structure, lookback: int) -> tuple[I64, ...]:
    """``find_order_block`` on each base break: (zone index into ``s.ev_pos``, bar)."""
    j = s.ev_pos
    width = np.minimum(np.minimum(j + 1, lookback), OB_BARS + 1) - 1
    colour = np.sign(arrays.close - arrays.open)  # an OB is the opposite colour
    found = np.full(len(j), -1, np.int64)
    for o in range(OB_BARS, 0, -1):  # the nearest wins: it is written last
        at = j - o
        ok = (o <= width) & (colour[np.maximum(at, 0)] == -s.ev_side)
        found[ok] = at[ok]
    which = np.flatnonzero(found >= 0)
    return which, found[which]


def zones(arrays: CandleArrays, s: Structure, lookback: int, max_zones: int) -> Zones:
    """The zones of the series with the bar each leaves the list (see ``Zones``)."""
    h, lo, c = arrays.high, arrays.low, arrays.close
    m = len(c)
    which, ob_bar = _order_blocks(arrays, s, lookback)
    ob_at = s.ev_pos[which]
    fvg_long = np.zeros(m, np.bool_)
    fvg_short = np.zeros(m, np.bool_)
    if lookback >= 3 and m >= 3:
        fvg_long[2:] = lo[2:] > h[:-2]
        fvg_short[2:] = ~fvg_long[2:] & (h[2:] < lo[:-2])
    fl, fs = np.flatnonzero(fvg_long), np.flatnonzero(fvg_short)
    bar = np.concatenate([ob_at, fl, fs])
    kind = np.concatenate([np.zeros(len(ob_at), np.int8), np.ones(len(fl) + len(fs), np.int8)])
    is_long = np.concatenate([s.ev_side[which] > 0, np.ones(len(fl), np.bool_),
                              np.zeros(len(fs), np.bool_)])  # fmt: skip
    zlow = np.concatenate([lo[ob_bar], h[fl - 2], h[fs]])
    zhigh = np.concatenate([h[ob_bar], lo[fl], lo[fs - 2]])
    order = np.lexsort((kind, bar))
    bar, kind, is_long = bar[order], kind[order], is_long[order]
    zlow, zhigh = zlow[order], zhigh[order]
    end = _mitigated(c, bar, is_long, zlow, zhigh, 4 * lookback + 1)
    end = _pushed_out(bar, end, max_zones)
    return Zones(bar, kind == 0, is_long, zlow, zhigh, end)


def _mitigated(
    close: np.ndarray, bar: I64, is_long: np.ndarray, low: np.ndarray, high: np.ndarray,
    window: int,
) -> I64:  # fmt: skip
    """Per zone, the first bar from its own on whose close goes through its far edge
    (``Zone.mitigated_by``), else the bar that makes it too old (``bar + window``).

    A first-true search in three gathers of at most ``BLOCK`` columns: the rest of the
    zone's own block of bars, then the blocks' extremes up to the window's end, then the
    bars of the first block whose extreme goes through. A short zone's comparison is
    ``sign * close < sign * edge`` (negation is exact), a block's extreme its max."""
    m = len(close)
    end = bar + window
    if m == 0 or len(bar) == 0:
        return end
    starts = np.arange(0, m, BLOCK)
    bmin = np.minimum.reduceat(close, starts)
    bmax = np.maximum.reduceat(close, starts)
    sign = np.where(is_long, 1.0, -1.0)
    edge = np.where(is_long, low, -high)
    lim = np.minimum(bar + window, m)  # the search stops before this bar
    cols = np.arange(BLOCK)
    for part in range(0, len(bar), ZONE_CHUNK):
        zi = np.arange(part, min(part + ZONE_CHUNK, len(bar)))
        b, sg, ed, li = bar[zi], sign[zi], edge[zi], lim[zi]
        # 1. the rest of the zone's own block
        first_block = b // BLOCK
        found = _first_hit(close, first_block * BLOCK, cols, b, li, sg, ed)
        # 2. the first later block whose extreme goes through, within the window
        todo = np.flatnonzero(found < 0)
        nblocks = (window + 2 * BLOCK - 1) // BLOCK
        blk = first_block[todo, None] + 1 + np.arange(nblocks)
        inside = blk * BLOCK < li[todo, None]
        blk = np.minimum(blk, len(starts) - 1)
        ext = np.where(sg[todo, None] > 0, bmin[blk], -bmax[blk])
        through = inside & (ext < ed[todo, None])
        hit = through.any(axis=1)
        todo, blk_hit = todo[hit], blk[hit, through[hit].argmax(axis=1)]
        # 3. the bars of that block (the hit may still lie past the window's end)
        found[todo] = _first_hit(close, blk_hit * BLOCK, cols, b[todo], li[todo], sg[todo],
                                 ed[todo])  # fmt: skip
        done = found >= 0
        end[zi[done]] = found[done]
    return end


def _first_hit(
    close: np.ndarray, base: I64, cols: I64, lo: I64, hi: I64, sign: np.ndarray,
    edge: np.ndarray,
) -> I64:  # fmt: skip
    """Per row, the first bar of ``base .. base + BLOCK - 1`` within ``lo..hi-1`` with
    ``sign * close < edge`` (-1: none)."""
    idx = base[:, None] + cols
    ok = (idx >= lo[:, None]) & (idx < hi[:, None])
    px = close[np.minimum(idx, len(close) - 1)] * sign[:, None]
    hit = ok & (px < edge[:, None])
    first = hit.argmax(axis=1)
    return np.where(hit[np.arange(len(base)), first], base + first, -1)


def _pushed_out(bar: I64, end: I64, max_zones: int) -> I64:
    """Apply the list bound: on each bar that adds zones, the list (zones not removed
    before it, then the new ones) keeps its last ``max_zones``; the others end there.
    Zones already removed are only dropped from ``alive`` when the bound is in question."""
    if len(bar) == 0:
        return end
    ends = end.tolist()
    first = np.flatnonzero(np.r_[True, bar[1:] != bar[:-1]])
    stop = np.r_[first[1:], len(bar)]
    alive: list[int] = []
    for j, i, k in zip(bar[first].tolist(), first.tolist(), stop.tolist(), strict=True):
        alive.extend(range(i, k))
        if len(alive) > max_zones:
            alive = [a for a in alive if ends[a] >= j]
            if len(alive) > max_zones:
                for a in alive[:-max_zones]:
                    ends[a] = j
                del alive[:-max_zones]
    return np.array(ends, np.int64)


@dataclass(frozen=True, slots=True)
class SMCPlan:
    """The whole-series SMC state of one symbol (see the module doc)."""

    arrays: CandleArrays
    swing_n: int
    htf_swing_n: int
    lookback: int
    base: Structure
    htf: HTF
    zones: Zones

    @classmethod
    def build(cls, arrays: CandleArrays, args: tuple[int, int, int, int],
              max_zones: int) -> SMCPlan | None:  # fmt: skip
        """The plan of ``arrays`` for ``_SymbolState(*args)``; None when not exact."""
        swing_n, factor, htf_swing_n, lookback = args
        cols = (arrays.open, arrays.high, arrays.low, arrays.close)
        if not all(np.isfinite(col).all() for col in cols):
            return None
        t = arrays.open_time_ms
        if len(t) > 1 and not (t[1:] > t[:-1]).all():
            return None
        base = structure(arrays.high, arrays.low, arrays.close, swing_n)
        return cls(arrays, swing_n, htf_swing_n, lookback, base,
                   htf_bars(arrays, factor, htf_swing_n),
                   zones(arrays, base, lookback, max_zones))  # fmt: skip

    def directions(self, min_confidence: int, warmup: int) -> np.ndarray:
        """Per bar, the direction ``on_candle`` returns: +1 LONG, -1 SHORT, 0 FLAT.

        The components are integers (``score_smc``'s points), so the score is summed in
        int16; bars are taken ``BAR_CHUNK`` at a time (bounded temporaries)."""
        m = len(self.arrays)
        side = np.zeros(m, np.int8)
        score = np.zeros(m, np.int16)  # every component but the zone's
        for lo in range(0, m, BAR_CHUNK):
            hi = min(m, lo + BAR_CHUNK)
            side[lo:hi], score[lo:hi] = self._components(lo, hi)
        side[: max(warmup, INDICATORS_READY) - 1] = 0  # on_candle's warm-up check
        # an entry needs a zone touch (20 or 25) and the discount/premium gate (fib > 0)
        cand = (side != 0) & (score > 0) & (score + 25 >= min_confidence)
        zone = self._zone_points(cand, side)
        enters = cand & (zone > 0) & (np.minimum(score + zone, 100) >= min_confidence)
        return np.where(enters, side, np.int8(0))

    def _components(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Bars ``lo..hi-1``: the HTF side, and 30 + structure + fib + rejection where
        fib > 0, else 0 (no entry without the discount/premium gate)."""
        a, s, hs = self.arrays, self.base, self.htf.structure
        bars = np.arange(lo, hi)
        q = np.searchsorted(self.htf.emit, bars, side="right") - 1  # the last closed HTF bar
        e = np.searchsorted(hs.ev_pos, q, side="right") - 1  # the HTF trend: its last break
        side = _at(hs.ev_side, np.where(q >= 0, e, -1), 0).astype(np.int8)
        kh = np.searchsorted(s.sh_conf, bars, side="right") - 1  # the latest swing high
        kl = np.searchsorted(s.sl_conf, bars, side="right") - 1
        hp, lp = _at(s.sh_price, kh, 0.0), _at(s.sl_price, kl, 0.0)
        c, o = a.close[lo:hi], a.open[lo:hi]
        span = hp - lp
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(side > 0, (hp - c) / span, (c - lp) / span)  # ``retracement``
        r = np.where(span > 0, r, 0.0)
        fib = np.where((OTE[0] <= r) & (r <= OTE[1]), 15, np.where(r >= 0.5, 10, 0))
        fib = np.where((kh >= 0) & (kl >= 0), fib, 0)  # no leg yet
        ev = np.searchsorted(s.ev_pos, bars, side="right") - 1  # the last base break
        points = np.where(_at(s.ev_choch, ev, False), 15, 20)
        struct = np.where(_at(s.ev_side, ev, 0) == side, points, 0)  # FLAT: side 0 anyway
        rejection = np.where(np.where(side > 0, c > o, c < o), 10, 0)
        score = np.where(fib > 0, 30 + struct + fib + rejection, 0)
        return side, score.astype(np.int16)

    def _zone_points(self, cand: np.ndarray, side: np.ndarray) -> np.ndarray:
        """Per candidate bar, ``_zone_points`` for its side: 25 OB, 20 FVG, 0 none."""
        z, a = self.zones, self.arrays
        m = len(a)
        has_ob = np.zeros(m, np.bool_)
        has_any = np.zeros(m, np.bool_)
        for sign in (1, -1):
            bars = np.flatnonzero(cand & (side == sign))
            mine = np.flatnonzero(z.long == (sign > 0))
            # alive after bar i and known before it: bar < i < end
            lo = np.searchsorted(bars, z.bar[mine] + 1)
            hi = np.searchsorted(bars, z.end[mine])
            count = np.maximum(hi - lo, 0)
            for part in np.array_split(np.arange(len(mine)), 1 + (int(count.sum()) >> 17)):
                if len(part) == 0:
                    continue
                cnt = count[part]
                total = int(cnt.sum())
                rep = np.repeat(part, cnt)
                first = np.cumsum(cnt) - cnt
                at = bars[np.repeat(lo[part] - first, cnt) + np.arange(total)]
                zi = mine[rep]
                touch = (a.low[at] <= z.high[zi]) & (a.high[at] >= z.low[zi])
                has_any[at[touch]] = True
                has_ob[at[touch & z.ob[zi]]] = True
        return np.where(has_ob, 25, np.where(has_any, 20, 0)).astype(np.int16)


# ----------------------------------------------------------------- restoring a state
def restore_structure(ms: Any, s: Structure, p: int) -> None:
    """Set a ``MarketStructure`` to its state after position ``p`` (-1: nothing seen)."""
    kh = int(np.searchsorted(s.sh_conf, p, side="right")) - 1
    kl = int(np.searchsorted(s.sl_conf, p, side="right")) - 1
    ms.leg_high = ms.last_high = ms.leg_low = ms.last_low = None
    if kh >= 0:
        ms.leg_high = Swing(int(s.sh_mid[kh]), float(s.sh_price[kh]), True)
        ms.last_high = ms.leg_high if int(s.sh_break[kh]) > p else None
    if kl >= 0:
        ms.leg_low = Swing(int(s.sl_mid[kl]), float(s.sl_price[kl]), False)
        ms.last_low = ms.leg_low if int(s.sl_break[kl]) > p else None
    e = int(np.searchsorted(s.ev_pos, p, side="right")) - 1
    if e < 0:
        ms.trend, ms.last_event = Direction.FLAT, None
        return
    side = Direction.LONG if s.ev_side[e] > 0 else Direction.SHORT
    kind = "CHoCH" if s.ev_choch[e] else "BOS"
    ms.last_event = StructureEvent(kind, side, float(s.ev_level[e]), int(s.ev_pos[e]))
    ms.trend = side


def _fold(highs: list[float], lows: list[float]) -> tuple[float, float]:
    """An HTF bar's high and low as ``HTFAggregator`` folds them (first extreme kept)."""
    return max(highs), min(lows)


def restore(state: Any, plan: SMCPlan, start: int, stop: int) -> None:
    """Bring ``state`` (fed bars ``0..start-1``) to its state after bar ``stop - 1``."""
    a = plan.arrays
    k = stop - 1
    _feed_indicators(state, a, start, stop)
    state.bars.extend(bar_candles(a, max(start, stop - state.bars.maxlen), stop))
    lo = max(start, stop - (2 * plan.swing_n + 1))
    state.swings._bars.extend(zip(a.high[lo:stop].tolist(), a.low[lo:stop].tolist(),
                                  strict=True))  # fmt: skip
    state.swings.count = stop
    state.count = stop
    state.last_ms = int(a.open_time_ms[k])
    restore_structure(state.structure, plan.base, k)
    _restore_htf(state, plan, k)
    z = plan.zones
    hi = int(np.searchsorted(z.bar, k, side="right"))
    first = int(np.searchsorted(z.bar, k - state.zone_max_age))
    state.zones = [
        Zone("OB" if z.ob[i] else "FVG", Direction.LONG if z.long[i] else Direction.SHORT,
             float(z.low[i]), float(z.high[i]), int(z.bar[i]))
        for i in range(first, hi) if z.end[i] > k
    ]  # fmt: skip


def _restore_htf(state: Any, plan: SMCPlan, k: int) -> None:
    a, htf = plan.arrays, plan.htf
    agg = state.htf
    agg._bar_ms = a.interval_ms
    t = int(a.open_time_ms[k])
    agg._bucket = t // htf.span
    g = int(np.searchsorted(htf.group_start, k, side="right")) - 1
    agg._current = None
    if int(htf.group_emit[g]) > k:  # the run holding bar k is still open
        s = int(htf.group_start[g])
        b = agg._bucket * htf.span
        vol = float(a.volume[s])
        for v in a.volume[s + 1 : k + 1].tolist():
            vol = vol + v
        high, low = _fold(a.high[s : k + 1].tolist(), a.low[s : k + 1].tolist())
        agg._current = Candle(a.symbol, b, b + htf.span - 1, float(a.open[s]), high, low,
                              float(a.close[k]), vol)  # fmt: skip
    q = int(np.searchsorted(htf.emit, k, side="right"))  # HTF bars closed so far
    swings = state.htf_swings
    swings.count = q
    swings._bars.clear()
    for i in range(max(0, q - (2 * plan.htf_swing_n + 1)), q):
        s, e = int(htf.start[i]), int(htf.end[i])
        swings._bars.append(_fold(a.high[s:e].tolist(), a.low[s:e].tolist()))
    restore_structure(state.htf_structure, htf.structure, q - 1)


def _feed_indicators(state: Any, a: CandleArrays, start: int, stop: int) -> None:
    """ATR and ADX over bars ``start..stop-1``: stepped until warm, then fed in a batch."""
    i = start
    while i < stop and (state.atr.value is None or state.adx.adx is None):
        h, lo, c = a.high.item(i), a.low.item(i), a.close.item(i)
        state.atr.update(h, lo, c)
        state.adx.update(h, lo, c)
        i += 1
    if i < stop:
        high, low, close = a.high[i:stop], a.low[i:stop], a.close[i:stop]
        state.atr.feed(high, low, close)
        state.adx.feed(high, low, close)

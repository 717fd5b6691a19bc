"""Entries an account cannot afford: where a flat engine's signal certainly changes nothing.

A flat engine acts on a signal by sizing an entry; when the account is too small to buy
one lot at the fill price, the order's quantity rounds to zero and ``send`` drops it.
That signal changes nothing the run reports, provided it got that far without a refusal
(a refusal is counted) and its plan did not clear an earlier refusal. The gate
(``configured_for_it``: fixed for a run; ``clear_now``: the state) tells whether such a
signal gets through ``check_entry`` and ``plan`` without a refusal; ``price_ceiling``
tells, from the engine's state at the start of a stretch (which a skipped stretch keeps:
no fill, no position, so no cash or allocation moves), the price above which a signal
is certainly such a no-op; ``next_affordable`` then finds the first acting bar at or
below it. Where the gate fails, or ``price_ceiling`` gives ``None``, the rule cannot be
shown to hold for this engine or config, and the driver skips as it did without it
(every acting bar is stepped). ``Acting`` puts these together.

What a LONG (futures: either side) signal of a flat engine does, and why it is a no-op
above the ceiling (``SpotEngine.on_signal``, ``FuturesEngine._enter``):

* ``RiskManager.check_entry`` refuses nothing: entries allowed, no breaker in force (the
  driver applies the rule only then), ``min_confidence <= 0`` (a signal's confidence is
  0..100; the futures ``ConfidencePositionSizer`` has its own ``min_confidence``, below
  which its margin is 0 and ``check_entry`` refuses the size: it must give a confidence
  of 0 a positive size, and its size does not fall with confidence), fewer positions
  than ``max_positions`` (none anywhere: the rule needs every engine flat, so the
  allocation and the margin do not move with prices), the symbol not blacklisted now
  (nothing blacklists it during a stretch on which no trade happens), a positive
  wanted margin and available margin (computed here by the engine's own
  ``allocation`` and ``available_margin``).
* ``RiskManager.plan`` refuses nothing: the close is positive (checked over the whole
  series), a too-tight stop is widened (``tight_stop`` ``widen``), no edge filter
  (``min_edge_cost_ratio`` 0), fixed-fraction sizing (``risk_based_sizing`` off: its
  quantity, ``margin_cap x leverage / price``, is positive; risk-based sizing can
  refuse a size, and its futures liquidation cap too, so it is not covered), and no
  futures liquidation guard. The plan then clears the symbol's last refusal, so that
  must already be clear.
* The quote's margin is at most ``min(wanted, available)`` = ``M`` (both sizing paths
  keep ``quantity x price / leverage`` within the margin cap). The backtest's
  ``FillPriceSizer`` buys ``(margin - fee_fixed) / ((last x (1 + slippage) + tick) x
  (1 + fee))`` (futures: ``x (1 / leverage + fee)``, leverage at most the configured
  largest), where ``last`` is the venue's last price when the signal is handled: the next
  bar's open with ``--fill next_open``, else the signal bar's close. ``send`` floors
  ``min(quantity, max_qty)`` to the lot step and drops a quantity <= 0. So above
  ``(M - fee_fixed) / (step x (1 + slippage) x (1 + fee))`` (futures: ``1 / L + fee``)
  the order is dropped; the ceiling is that times ``1 + MARGIN``. With ``--stake`` the
  quantity does not depend on the price: every signal is dropped (ceiling ``-inf``)
  when the stake is below one lot, and the rule does not apply otherwise.
* What such a signal leaves behind is overwritten before it is read: the engine's
  planned stop distance (set again by the signal that sends an entry), the futures
  leverage set on the venue for a flat symbol (set again, with the engine's record of
  it, by the next entry whose leverage differs from that record), the venue's cached
  Decimal of its last price; logs are not part of a report.

Only strategies with ``ActionBars`` are fast-forwarded over bars on which they signal:
``FastForward.fast_forward`` is defined over quiet bars only.

Asked once per skip decision, mostly with the answer "the first acting group" (cash
enough for a lot there): ``Acting`` first compares the price there with
``ceiling_floor``, a float lower bound of the ceiling made from every engine's cash,
and asks the gate's state and the exact ceiling only above it. Whatever the floor
says, the answer is never later than the exact rule's (at or below it the first acting
group is the answer either way), so it cannot skip a bar the rule would step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from kinetic.backtest.skipping import NEVER, ActionIndex, Kind
from kinetic.backtest.stretch import as_float
from kinetic.backtest.world import FillPriceSizer
from kinetic.domain import MarketType
from kinetic.marketdata.files import CandleArrays
from kinetic.risk.entry import tight_stop_policy
from kinetic.strategy.base import ActionBars


def price_ceiling(engine: Any, symbol: str, margin: float) -> float | None:
    """The price above which ``engine``'s entry signal on ``symbol`` certainly changes
    nothing now (``-inf``: at any price), or None when that cannot be shown; asked only
    where the gate passes (``configured_for_it`` and ``clear_now``). A function of the
    engine's config, instruments and sizer and of every engine's cash (all flat)."""
    d = engine.d
    sizer = d.sizer
    assert isinstance(sizer, FillPriceSizer)
    cfg = d.config
    futures = engine.market is MarketType.FUTURES
    alloc = d.allocation()
    wanted_positive = alloc.allocated_usd > 0 and (futures or cfg.spot_position_size_pct > 0)
    available = engine.available_margin(alloc)
    if not wanted_positive or available <= 0 or d.positions.cash <= 0:
        return None  # refused (and counted) by check_entry, or by the plan
    inst = d.instruments[symbol]
    step = inst.step_size
    if step <= 0:
        return None
    if sizer.stake is not None:  # the same quantity at every price
        return -math.inf if round_zero(min(sizer.stake, inst.max_qty), step) else None
    if round_zero(inst.max_qty, step):
        return -math.inf
    if futures:
        top = max(cfg.futures_leverage_min, cfg.futures_leverage_max)
        per_unit = Decimal(1) / top + sizer.fee
    else:
        wanted = alloc.allocated_usd * Decimal(str(cfg.spot_position_size_pct)) / 100
        available = min(available, wanted)
        per_unit = 1 + sizer.fee
    grow = 1 + sizer.slippage
    if per_unit <= 0 or grow <= 0:
        return None
    spare = available - sizer.fixed
    if spare <= 0:
        return 0.0  # nothing left after the fixed fee: any positive price buys nothing
    return float(spare / (step * grow * per_unit)) * (1 + margin)


def configured_for_it(engine: Any) -> bool:
    """The part of the gate fixed for a run (sizer, strategy and rules): with
    ``clear_now``, a flat engine's entry signal certainly gets through ``check_entry``
    and ``plan`` without a refusal, and the plan clears no earlier refusal."""
    d = engine.d
    # a runtime Protocol check (~10 us): asked once per slot and run (``Acting``)
    if not isinstance(d.sizer, FillPriceSizer) or not isinstance(d.strategy, ActionBars):
        return False
    risk = d.risk
    rules = risk.rules
    futures = engine.market is MarketType.FUTURES
    return not (
        risk.limits.min_confidence > 0
        or rules.min_confidence > 0
        or risk.limits.max_positions <= 0
        or rules.sized_by_risk
        or rules.min_edge_cost_ratio != 0
        or tight_stop_policy(d.strategy) != "widen"
        or (futures and d.config.futures_liquidation_guard)
        or (futures and not engine.sizer.size_pct(0) > 0)
    )


def clear_now(engine: Any, symbol: str, world: Any) -> bool:
    """The part of the gate that depends on the state (no trade changes it
    during a skipped stretch)."""
    if any(slot.engine.d.positions.positions for slot in world.slots):
        return False  # a held position moves the allocation and the margin with prices
    risk = engine.d.risk
    return not (
        not risk.entries_allowed
        or risk.last_refusal(symbol) is not None
        or (engine.market is MarketType.FUTURES and engine.reversals.waiting)
        or risk._is_blacklisted(symbol)  # the gate's own predicate (now: nothing adds)
    )


def round_zero(qty: Decimal, step: Decimal) -> bool:
    """True when ``qty`` floored to ``step`` is zero or less (``round_quantity``)."""
    return qty < step


@dataclass
class Acting:
    """The driver's question, where could a signal make an engine act: the strategies'
    acting groups (``ActionIndex``), narrowed by ``price_ceiling`` for a flat engine."""

    index: ActionIndex
    world: Any
    series: dict[str, CandleArrays]
    next_open: bool
    margin: float
    _symbols: list[str] = field(default_factory=list)
    _arrays: list[CandleArrays] = field(default_factory=list)
    _positive: list[bool] = field(default_factory=list)
    _configured: list[bool] = field(default_factory=list)  # per slot
    _terms: dict[tuple[int, int], FloorTerms | None] = field(default_factory=dict)
    narrows: list[list[bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._symbols = list(self.series)
        self._arrays = list(self.series.values())
        # the plan refuses a price <= 0 (and a nan close is not one)
        self._positive = [len(a.close) == 0 or bool(a.close.min() > 0) for a in self._arrays]
        self._configured = [configured_for_it(slot.engine) for slot in self.world.slots]
        # per slot, per symbol: whether ``next_act`` can narrow the action index's answer
        # for a flat engine (else it is that answer, ``ActionIndex.next_act``)
        self.narrows = [[c and p for p in self._positive] for c in self._configured]

    def next_act(self, slot: int, w: int, kind: Kind, g: int, h: int, flat: bool) -> int:
        """The first group ``>= g`` where the slot's strategy could make its engine act
        on symbol ``w`` (``flat``: the engine holds nothing and no breaker holds entries).
        The answer may be any group ``>= h`` when there is none before ``h``."""
        index = self.index
        first = index.next_act(slot, w, kind, g)
        if first >= h or not flat or not self._positive[w] or not self._configured[slot]:
            return first
        arrays = self._arrays[w]
        price = handled_price(arrays, index.bar(w, first), self.next_open)
        # the usual answer, without the gate's state or the exact ceiling: at or below a
        # lower bound of the ceiling (or nan) the signal at ``first`` could act anyway
        if not price > self._floor(slot, w):
            return first
        engine, symbol = self.world.slots[slot].engine, self._symbols[w]
        if not clear_now(engine, symbol, self.world):
            return first
        top = price_ceiling(engine, symbol, self.margin)
        if top is None or not price > top:  # nan: could act
            return first
        return next_affordable(index, slot, w, kind, first + 1, h, arrays, self.next_open, top)

    def _floor(self, slot: int, w: int) -> float:
        """A price at or below ``price_ceiling`` of the slot's engine on symbol ``w``
        whenever the gate passes (every engine flat) and that is a number; ``-inf``
        where none is shown. Made in floats from every engine's cash (``ceiling_floor``)."""
        key = (slot, w)
        if key in self._terms:
            terms = self._terms[key]
        else:  # the sizer, config and instrument: fixed for a run
            terms = self._terms[key] = floor_terms(self.world.slots[slot].engine, self._symbols[w])
        if terms is None:
            return -math.inf
        return ceiling_floor(terms, self.world, slot)


def handled_price(arrays: CandleArrays, bar: int, next_open: bool) -> float:
    """The venue's price when a signal on ``bar`` is handled: the next bar's open with
    ``next_open`` (the bar's close on the last bar), else the bar's close."""
    if next_open and bar + 1 < len(arrays.close):
        return float(arrays.open.item(bar + 1))
    return float(arrays.close.item(bar))


@dataclass(frozen=True)
class FloorTerms:
    """The parts of ``price_ceiling`` fixed for a run, as floats: the cost of one lot at
    a price of 1 (``step x (1 + slippage) x per_unit``), the fixed fee, and the share of
    the allocation an entry may take (spot: ``spot_position_size_pct``, at most 1)."""

    per_price: float
    fixed: float
    share: float


# relative room left between ``ceiling_floor`` and ``price_ceiling`` for the rounding of
# the floats (a few ulps, ~1e-15) against the exact Decimals; the spare margin after the
# fixed fee must be at least this share of the margin, so no cancellation eats it
FLOOR_SLACK = 1e-6
TINY = 1e-290  # the floats below this are near the subnormal ones (relative precision lost)


def floor_terms(engine: Any, symbol: str) -> FloorTerms | None:
    """``price_ceiling``'s fixed terms, or None where it is not the usual quotient
    (a stake, a lot the maximum quantity rounds away, no lot step, no positive cost)."""
    d = engine.d
    sizer = d.sizer
    if not isinstance(sizer, FillPriceSizer) or sizer.stake is not None:
        return None
    inst = d.instruments.get(symbol)
    if inst is None or inst.step_size <= 0 or round_zero(inst.max_qty, inst.step_size):
        return None
    cfg = d.config
    fee = float(sizer.fee)
    if engine.market is MarketType.FUTURES:
        per_unit = 1 / max(cfg.futures_leverage_min, cfg.futures_leverage_max) + fee
        share = 1.0
    else:
        per_unit = 1 + fee
        share = min(1.0, cfg.spot_position_size_pct / 100)
    per_price = float(inst.step_size) * (1 + float(sizer.slippage)) * per_unit
    if not per_price > TINY:  # a lot of a subnormal cost: its relative precision lost
        return None
    return FloorTerms(per_price, float(sizer.fixed), share)


def ceiling_floor(terms: FloorTerms, world: Any, slot: int) -> float:
    """A lower bound of ``price_ceiling`` for the slot's engine while every engine is
    flat (asked regardless: a wrong answer then is never used, see ``Acting.next_act``).

    Flat, each engine's equity is its cash and its exposure 0, so ``allocation`` is
    the sum of the cash times the engine's share (``CapitalAllocator``), and the margin
    free for an entry the smaller of that (spot: times ``spot_position_size_pct``) and
    the engine's own cash; ``price_ceiling`` divides what the fixed fee leaves of it by
    the cost of a lot at a price of 1. The same here in floats, lowered by
    ``FLOOR_SLACK``. A floor too high would only make the driver step a bar it could
    skip (the exact ceiling decides every price above the floor); ``-inf`` where the
    floats could be far off (a negative or nan cash, a fixed fee taking most of it,
    amounts near the subnormal floats or beyond the largest).
    """
    slots = world.slots
    total = 0.0
    for other in slots:
        cash = as_float(other.engine.d.positions.cash)  # ``float``, memoised by identity
        if not cash >= 0:
            return -math.inf
        total += cash
    mine = slots[slot]
    allocated = total * world.orchestrator.capital_allocator.allocated_pct(mine.name) / 100
    if not allocated < math.inf:  # beyond the largest float (the own cash would count)
        return -math.inf
    available = min(allocated * terms.share, as_float(mine.engine.d.positions.cash))
    spare = available - terms.fixed
    floor: float = spare / terms.per_price
    if not (spare > available * FLOOR_SLACK and floor > TINY):
        return -math.inf
    return floor * (1 - FLOOR_SLACK)


def next_affordable(
    index: ActionIndex,
    slot: int,
    w: int,
    kind: Kind,
    g: int,
    h: int,
    arrays: CandleArrays,
    next_open: bool,
    top: float,
) -> int:
    """The first group ``>= g`` where the slot's strategy could act on ``symbol`` ``w``
    at a price at or below ``top`` (the venue's price when the signal is handled: the
    next open with ``next_open``, else the close). Groups from ``h`` on are not
    examined: the first acting group from ``h`` (or a larger one) is returned then."""
    first = index.next_act(slot, w, kind, g)
    if first >= h:
        return first
    if not handled_price(arrays, index.bar(w, first), next_open) > top:  # nan: could act
        return first  # the usual answer: one lookup, no arrays
    groups = index.acting(slot, w, kind)
    k0, k1 = groups.searchsorted((first + 1, h)).tolist()
    if k1 > k0:
        acting = groups[k0:k1]
        bars = acting if index.identity else index.group_of[w].searchsorted(acting)
        if next_open:
            n = len(arrays.close)
            later = bars + 1
            last = later >= n
            price = arrays.open[np.minimum(later, n - 1)]
            if last.any():
                price = np.where(last, arrays.close[bars], price)
        else:
            price = arrays.close[bars]
        can = ~(price > top)  # nan: could act
        first = int(can.argmax())
        if can[first]:
            return int(acting.item(first))
    return int(groups.item(k1)) if k1 < len(groups) else NEVER

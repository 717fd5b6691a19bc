"""Plan an entry: stop rule, size from risk, the smallest leverage, the edge over costs.

Pure functions over Decimals (issue 15). The order of the steps:

1. **Stop rule.** A stop closer than ``min_stop_atr`` x ATR (candle noise) or than the
   round-trip cost is widened to the larger of the two, or the entry is refused; the
   strategy chooses (``tight_stop``: ``widen`` or ``refuse``).
2. **Size from risk.** The loss at the stop plus the round trip's fees and slippage is
   ``risk_pct`` of the engine's equity; ``risk_pct`` scales with confidence from
   ``risk_min_pct`` (at ``min_confidence``) to ``risk_max_pct`` (at 100).
3. **Leverage.** The smallest whole leverage whose margin (at most ``margin_cap``)
   carries that size, capped by ``max_leverage`` (the regime's) and by the liquidation
   check: the estimated liquidation price must lie beyond the stop. A size the cap
   cannot carry is cut to what ``margin_cap`` x leverage buys: the risk only shrinks.
4. **Edge.** The expected move (to the target) must be at least
   ``min_edge_cost_ratio`` x the round-trip cost (fees both ways, slippage, expected
   funding over the holding time), both as a share of the margin (scaled by leverage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

from kinetic.costs import CostModel
from kinetic.domain import ZERO, PositionSide, builder, exact, quick_init

TightStop = Literal["widen", "refuse"]
PCT = Decimal(100)
ONE = Decimal(1)
FINE = Decimal("1e-12")


@dataclass(frozen=True, slots=True)
class EntryRules:
    """The configured rules of one engine (see ``config.py``)."""

    risk_min_pct: float
    risk_max_pct: float
    min_confidence: int
    min_stop_atr: float
    min_edge_cost_ratio: float
    holding_s: float = 0.0
    sized_by_risk: bool = True  # False: the legacy size (``margin_cap`` x max leverage)

    def __post_init__(self) -> None:
        if not 0 < self.risk_min_pct <= self.risk_max_pct <= 100:
            raise ValueError(
                f"need 0 < risk_min_pct <= risk_max_pct <= 100, got "
                f"{self.risk_min_pct} / {self.risk_max_pct}"
            )
        if self.min_stop_atr < 0 or self.min_edge_cost_ratio < 0:
            raise ValueError("min_stop_atr and min_edge_cost_ratio must be >= 0")

    def risk_pct(self, confidence: float) -> float:
        """The percent of equity to risk at ``confidence`` (clamped to the range)."""
        span = 100 - self.min_confidence
        frac = 1.0 if span <= 0 else (min(confidence, 100) - self.min_confidence) / span
        frac = min(max(frac, 0.0), 1.0)
        return self.risk_min_pct + (self.risk_max_pct - self.risk_min_pct) * frac


@quick_init
@dataclass(frozen=True, slots=True)
class EntryRequest:
    """What the engine knows when a signal asks to enter."""

    side: PositionSide
    price: Decimal
    atr: Decimal
    stop: Decimal  # the stop the engine/strategy computed
    target: Decimal | None  # take-profit or the strategy's stated target; None: unknown
    confidence: float
    equity: Decimal  # the engine's equity
    margin_cap: Decimal  # the most margin (spot: notional) this entry may use
    max_leverage: int = 1  # the regime's leverage (spot: 1)
    tight_stop: TightStop = "widen"
    mmr: Decimal | None = None  # futures: check liquidation with this maintenance rate
    max_qty: Decimal | None = None  # the instrument's largest order (the venue refuses more)


@quick_init
@dataclass(frozen=True, slots=True)
class EntryQuote:
    """An entry the rules let through."""

    stop: Decimal
    quantity: Decimal
    leverage: int
    margin: Decimal
    risk_usd: Decimal  # the loss budget at the stop (fees and slippage included)
    move_pct: Decimal  # expected move, percent of the margin
    cost_pct: Decimal  # round-trip cost, percent of the margin
    widened: str | None = None  # why the stop was moved, if it was
    # ``abs(price - stop) / price`` as the plan computed it (the spot engine anchors its
    # stop on the fill with it: one division per entry less); not part of the quote's value
    distance: Decimal | None = field(default=None, compare=False, repr=False)


# ``EntryRequest(...)`` / ``EntryQuote(...)`` built through a twin (``domain.builder``): one
# of each per entry
new_entry_request = builder(EntryRequest)
_new_quote = builder(EntryQuote)


@dataclass(frozen=True, slots=True)
class Refusal:
    """An entry the rules refuse: a short code (for counts) and the reason (for logs)."""

    code: str
    reason: str


def tight_stop_policy(strategy: object) -> TightStop:
    """What ``strategy`` wants done with a too-tight stop (``tight_stop``; default widen)."""
    return "refuse" if getattr(strategy, "tight_stop", "widen") == "refuse" else "widen"


def _f(x: Decimal) -> str:
    return f"{float(x) * 100:.3f}%"


def stop_floor(price: Decimal, atr: Decimal, costs: CostModel, rules: EntryRules) -> Decimal:
    """The closest stop distance allowed, as a fraction of the price."""
    return _stop_floor(price, atr, costs.round_trip(rules.holding_s), rules)


def _stop_floor(price: Decimal, atr: Decimal, trip: Decimal, rules: EntryRules) -> Decimal:
    noise = exact(rules.min_stop_atr) * atr / price if price > ZERO else ZERO
    return max(noise, trip)


def apply_stop_rule(
    req: EntryRequest, costs: CostModel, rules: EntryRules
) -> tuple[Decimal, str | None] | Refusal:
    """Return the stop (widened if needed) and a note, or a ``stop_too_tight`` refusal."""
    return _apply_stop_rule(req, costs, rules, costs.round_trip(rules.holding_s))


def _apply_stop_rule(
    req: EntryRequest, costs: CostModel, rules: EntryRules, trip: Decimal
) -> tuple[Decimal, str | None] | Refusal:
    ruled = _stop_rule(req, costs, rules, trip, exact(rules.min_stop_atr))
    return ruled if isinstance(ruled, Refusal) else ruled[:2]


def _stop_rule(
    req: EntryRequest, costs: CostModel, rules: EntryRules, trip: Decimal, atr_mult: Decimal
) -> tuple[Decimal, str | None, Decimal | None] | Refusal:
    """``_apply_stop_rule`` and the stop's distance when the stop was kept (None if moved).

    ``atr_mult``: ``exact(rules.min_stop_atr)``.
    """
    distance = abs(req.price - req.stop) / req.price
    atr = req.atr
    if trip > ZERO and not atr_mult and atr.is_finite():
        # ``0 x ATR / price`` is a zero (the price is > 0 here, the ATR finite): the floor
        # ``max(zero, trip)`` is ``trip`` itself, without the product and its division
        floor = trip
    else:
        floor = _stop_floor(req.price, atr, trip, rules)
    if distance >= floor:
        return req.stop, None, distance
    atr_pct = req.atr / req.price
    detail = (
        f"stop {_f(distance)} away is closer than max({rules.min_stop_atr:g} x ATR "
        f"{_f(atr_pct)}, round-trip cost {_f(costs.round_trip(rules.holding_s))})"
    )
    if req.tight_stop == "refuse":
        return Refusal("stop_too_tight", detail)
    stop = req.price * (1 - req.side.sign * floor)
    return max(stop, ZERO), f"{detail}: widened to {_f(floor)}", None


# What ``plan_entry`` reads from its cost model and rules, remembered for the last pair:
# (costs, rules, round trip, exact(min_stop_atr), exact(min_edge_cost_ratio), the round
# trip as a percent of the margin at leverage 1). Both are frozen and the Decimal
# context never changes: the same pair gives the same Decimals; another (a runtime
# config change builds new ones) recomputes them.
_Terms = tuple[CostModel | None, EntryRules | None, Decimal, Decimal, Decimal, Decimal]
_last_terms: _Terms = (None, None, ZERO, ZERO, ZERO, ZERO)


def _terms(costs: CostModel, rules: EntryRules) -> _Terms:
    global _last_terms
    last = _last_terms
    if last[0] is not costs or last[1] is not rules:
        trip = costs.round_trip(rules.holding_s)
        last = _last_terms = (
            costs, rules, trip, exact(rules.min_stop_atr), exact(rules.min_edge_cost_ratio),
            CostModel.of_margin(trip, 1) * PCT,
        )  # fmt: skip
    return last


def liquidation_leverage(distance: Decimal, mmr: Decimal) -> int:
    """The highest leverage whose estimated liquidation lies beyond a stop ``distance`` away.

    Isolated margin: liquidation is ``1/L - mmr`` from the entry, so ``L < 1/(d + mmr)``.
    """
    bound = ONE / (distance + mmr)
    top = int(bound.to_integral_value(ROUND_CEILING)) - 1
    return max(top, 0)


def plan_entry(req: EntryRequest, costs: CostModel, rules: EntryRules) -> EntryQuote | Refusal:
    """Apply the stop rule, size, leverage and edge rules to ``req``."""
    if req.price <= ZERO:
        return Refusal("no_price", "no price to size the entry at")
    _, _, trip, atr_mult, ratio, cost_pct = _terms(costs, rules)
    stopped = _stop_rule(req, costs, rules, trip, atr_mult)
    if isinstance(stopped, Refusal):
        return stopped
    stop, note, distance = stopped
    if distance is None:  # the stop was moved: its distance from the price anew
        distance = abs(req.price - stop) / req.price
    sized = _size(req, distance, trip, rules)
    if isinstance(sized, Refusal):
        return sized
    quantity, leverage, risk_usd = sized
    price = req.price
    # ``x / 1`` and ``x * 1`` are ``x`` (value and exponent: a product already within the
    # precision, divided or multiplied exactly): skipped at leverage 1 (spot)
    margin = quantity * price if leverage == 1 else quantity * price / leverage
    if leverage != 1:  # (``cost_pct`` is the percent at leverage 1)
        cost_pct = CostModel.of_margin(trip, leverage) * PCT
    target = req.target
    if target is None:
        move = None
        move_pct = ZERO
    else:
        move = abs(target - price) / price
        # ``CostModel.of_margin(move, 1)`` is ``move`` (its check passes)
        move_pct = move * PCT if leverage == 1 else CostModel.of_margin(move, leverage) * PCT
    if move is not None and ratio > ZERO and move < ratio * trip:
        return Refusal(
            "edge",
            f"expected move {move_pct:.3f}% of margin < {rules.min_edge_cost_ratio:g} x "
            f"round-trip cost {cost_pct:.3f}% of margin (leverage {leverage})",
        )
    return _new_quote(
        stop, quantity, leverage, margin, risk_usd, move_pct, cost_pct, note, distance
    )  # fmt: skip


def _floor(qty: Decimal) -> Decimal:
    """Round a quantity down to 1e-12 (venues floor it to their lot step anyway)."""
    return qty.quantize(FINE, ROUND_FLOOR)


def _size(
    req: EntryRequest, distance: Decimal, trip: Decimal, rules: EntryRules
) -> tuple[Decimal, int, Decimal] | Refusal:
    """Return ``(quantity, leverage, risk budget)`` or a refusal."""
    if req.margin_cap <= ZERO or req.equity <= ZERO:
        return Refusal("size", "no equity or margin to size the entry with")
    cap = req.max_leverage
    if req.mmr is not None and distance > 0:
        cap = min(cap, liquidation_leverage(distance, req.mmr))
        if cap < 1:
            return Refusal(
                "liquidation",
                f"stop {_f(distance)} away lies beyond the liquidation price at any leverage",
            )
    cap = max(cap, 1)
    if not rules.sized_by_risk:
        qty = req.margin_cap * cap / req.price
        if req.max_qty is not None and qty > req.max_qty:
            qty = req.max_qty
        return qty, cap, qty * req.price * (distance + trip)
    risk_usd = req.equity * exact(rules.risk_pct(req.confidence)) / PCT
    per_unit = req.price * (distance + trip)  # loss at the stop with both fills' costs
    if per_unit <= 0:
        return Refusal("size", "zero stop distance and zero cost: cannot size from risk")
    qty = _floor(risk_usd / per_unit)  # never a hair above the budget
    needed = qty * req.price / req.margin_cap  # leverage the cap needs to carry it
    leverage = max(1, int(needed.to_integral_value(ROUND_CEILING)))
    if leverage > cap:
        leverage = cap
        qty = _floor(req.margin_cap * cap / req.price)
    if req.max_qty is not None and qty > req.max_qty:
        # one order carries at most max_qty: size down, and the leverage with it
        qty = req.max_qty
        needed = qty * req.price / req.margin_cap
        leverage = min(leverage, max(1, int(needed.to_integral_value(ROUND_CEILING))))
    if qty <= 0:
        return Refusal("size", "position size is zero")
    return qty, leverage, risk_usd

"""``plan_entry``'s shortcuts give the quote the plain expressions give, digit for digit.

``_reference_plan`` is ``plan_entry`` as it was written before its shortcuts (the
``0 x ATR`` floor, ``x / 1`` and ``x * 1`` at leverage 1, the remembered rule constants
and cost percent): every field of the quote must print the same (value and exponent),
and a refusal must be the same refusal. ``distance`` must be ``abs(price - stop) /
price`` of the planned stop, and for a long whose stop is not above the price it must
print as the spot engine's ``(price - stop) / price``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.costs import CostModel
from kinetic.domain import ZERO, PositionSide, exact
from kinetic.risk.entry import (
    PCT,
    EntryQuote,
    EntryRequest,
    EntryRules,
    Refusal,
    _floor,
    _stop_floor,
    _stop_rule,
    liquidation_leverage,
    plan_entry,
)

D = Decimal


def _reference_size(
    req: EntryRequest, distance: Decimal, trip: Decimal, rules: EntryRules
) -> tuple[Decimal, int, Decimal] | Refusal:
    if req.margin_cap <= ZERO or req.equity <= ZERO:
        return Refusal("size", "no equity or margin to size the entry with")
    cap = req.max_leverage
    if req.mmr is not None and distance > 0:
        cap = min(cap, liquidation_leverage(distance, req.mmr))
        if cap < 1:
            return Refusal("liquidation", "x")
    cap = max(cap, 1)
    if not rules.sized_by_risk:
        qty = req.margin_cap * cap / req.price
        if req.max_qty is not None and qty > req.max_qty:
            qty = req.max_qty
        return qty, cap, qty * req.price * (distance + trip)
    risk_usd = req.equity * exact(rules.risk_pct(req.confidence)) / PCT
    per_unit = req.price * (distance + trip)
    if per_unit <= 0:
        return Refusal("size", "zero stop distance and zero cost: cannot size from risk")
    qty = _floor(risk_usd / per_unit)
    needed = qty * req.price / req.margin_cap
    leverage = max(1, int(needed.to_integral_value(ROUND_CEILING)))
    if leverage > cap:
        leverage = cap
        qty = _floor(req.margin_cap * cap / req.price)
    if req.max_qty is not None and qty > req.max_qty:
        qty = req.max_qty
        needed = qty * req.price / req.margin_cap
        leverage = min(leverage, max(1, int(needed.to_integral_value(ROUND_CEILING))))
    if qty <= 0:
        return Refusal("size", "position size is zero")
    return qty, leverage, risk_usd


def _reference_plan(
    req: EntryRequest, costs: CostModel, rules: EntryRules
) -> tuple[Decimal, ...] | Refusal:
    """The quote's fields (and the planned stop's distance) by the plain expressions."""
    if req.price <= ZERO:
        return Refusal("no_price", "no price to size the entry at")
    trip = costs.round_trip(rules.holding_s)
    distance = abs(req.price - req.stop) / req.price
    floor = _stop_floor(req.price, req.atr, trip, rules)
    stop, note = req.stop, None
    if distance < floor:
        ruled = _stop_rule(
            req, costs, rules, trip, exact(rules.min_stop_atr)
        )  # the refusal / widening text
        if isinstance(ruled, Refusal):
            return ruled
        stop = max(req.price * (1 - req.side.sign * floor), ZERO)
        note = ruled[1]
        distance = abs(req.price - stop) / req.price
    sized = _reference_size(req, distance, trip, rules)
    if isinstance(sized, Refusal):
        return sized
    quantity, leverage, risk_usd = sized
    margin = quantity * req.price / leverage
    move = abs(req.target - req.price) / req.price if req.target is not None else None
    cost_pct = CostModel.of_margin(trip, leverage) * PCT
    move_pct = CostModel.of_margin(move, leverage) * PCT if move is not None else ZERO
    ratio = exact(rules.min_edge_cost_ratio)
    if move is not None and ratio > ZERO and move < ratio * trip:
        return Refusal("edge", "x")
    return (stop, quantity, D(leverage), margin, risk_usd, move_pct, cost_pct, distance), note


def _decimals(digits: int = 8) -> st.SearchStrategy[Decimal]:
    return st.builds(
        lambda c, e: D(c).scaleb(e),
        st.integers(1, 10**digits),
        st.integers(-8, 3),
    )


@settings(max_examples=600, deadline=None)
@given(
    price=_decimals(),
    stop_frac=st.sampled_from(["0", "0.0001", "0.003", "0.02", "0.5", "0.999999999", "1.5"]),
    long=st.booleans(),
    atr=st.one_of(_decimals(), st.just(D(0)), st.just(D("Infinity"))),
    target=st.one_of(st.none(), _decimals()),
    equity=_decimals(12),
    cap=_decimals(12),
    max_lev=st.integers(1, 20),
    mmr=st.sampled_from([None, D("0.004"), D("0.5")]),
    max_qty=st.sampled_from([None, D("1e18"), D("0.5"), D(3)]),
    tight=st.sampled_from(["widen", "refuse"]),
    fees=st.sampled_from([("0", "0"), ("0.001", "0.0"), ("0.0005", "0.0002"), ("0.1", "0")]),
    funding=st.sampled_from(["0", "0.0001"]),
    holding=st.sampled_from([0.0, 28800.0]),
    atr_mult=st.sampled_from([0.0, 0, 1.5, 4.5]),
    ratio=st.sampled_from([0.0, 0, 2.0]),
    by_risk=st.booleans(),
    confidence=st.integers(0, 100),
)
def test_plan_entry_prints_as_the_plain_expressions(
    price: Decimal, stop_frac: str, long: bool, atr: Decimal, target: Decimal | None,
    equity: Decimal, cap: Decimal, max_lev: int, mmr: Decimal | None,
    max_qty: Decimal | None, tight: str, fees: tuple[str, str], funding: str,
    holding: float, atr_mult: float, ratio: float, by_risk: bool, confidence: int,
) -> None:  # fmt: skip
    side = PositionSide.LONG if long else PositionSide.SHORT
    stop = price * (1 - side.sign * D(stop_frac))
    req = EntryRequest(
        side, price, atr, stop, target, confidence, equity, cap, max_lev,
        tight, mmr, max_qty,  # type: ignore[arg-type]
    )  # fmt: skip
    costs = CostModel(D(fees[0]), D(fees[0]), D(fees[1]), D(funding))
    rules = EntryRules(0.5, 1.25, 0, atr_mult, ratio, holding, by_risk)
    try:
        want = _reference_plan(req, costs, rules)
    except ArithmeticError as exc:  # e.g. 0 x Infinity: the plan raises the same
        with pytest.raises(type(exc)):
            plan_entry(req, costs, rules)
        return
    got = plan_entry(req, costs, rules)
    if isinstance(want, Refusal):
        assert isinstance(got, Refusal)
        assert got.code == want.code
        return
    assert isinstance(got, EntryQuote)
    fields, note = want
    have = (
        got.stop, got.quantity, D(got.leverage), got.margin, got.risk_usd, got.move_pct,
        got.cost_pct, got.distance,
    )  # fmt: skip
    assert [str(x) for x in have] == [str(x) for x in fields]
    assert got.widened == note
    if long and got.stop <= price:  # the spot engine's stop fraction is this distance
        assert str((price - got.stop) / price) == str(got.distance)


def test_quote_distance_is_no_part_of_its_value() -> None:
    req = EntryRequest(PositionSide.LONG, D(100), D(1), D(98), D(103), 100, D(10_000), D(1_500))
    quote = plan_entry(req, CostModel(D("0.001"), D("0.001"), D(0)), EntryRules(0.5, 1, 0, 0, 0))
    assert isinstance(quote, EntryQuote)
    assert quote.distance == D("0.02")
    assert quote == EntryQuote(
        quote.stop, quote.quantity, quote.leverage, quote.margin, quote.risk_usd,
        quote.move_pct, quote.cost_pct, quote.widened,
    )  # fmt: skip
    assert "distance" not in repr(quote)

"""Entry planning: the edge filter, the stop rule, sizing from risk and the leverage."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.costs import CostModel
from kinetic.domain import Direction, PositionSide, Signal
from kinetic.execution.protection import estimated_liquidation, stop_beyond_liquidation
from kinetic.risk.entry import (
    EntryQuote,
    EntryRequest,
    EntryRules,
    Refusal,
    apply_stop_rule,
    plan_entry,
)
from kinetic.risk.manager import RiskLimits, RiskManager

D = Decimal
PROPS = settings(max_examples=300, deadline=None)
FUT = CostModel(D("0.0005"), D("0.0002"), D("0.0002"))  # round trip 0.14 %
RULES = EntryRules(0.5, 1.0, 50, min_stop_atr=1.5, min_edge_cost_ratio=2.0)


def _req(**kw: object) -> EntryRequest:
    base: dict[str, object] = {
        "side": PositionSide.LONG, "price": D(100), "atr": D("0.5"), "stop": D(98),
        "target": D(103), "confidence": 100, "equity": D(10_000), "margin_cap": D(1_500),
        "max_leverage": 10,
    }  # fmt: skip
    base.update(kw)
    return EntryRequest(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- edge filter


def test_entry_just_below_the_edge_threshold_is_refused_naming_both_numbers() -> None:
    # cost 0.14 % of the price; 2 x cost = 0.28 %: a target 0.2799 above is refused
    quote = plan_entry(_req(target=D("100.2799")), FUT, RULES)
    assert isinstance(quote, Refusal)
    assert quote.code == "edge"
    assert "expected move" in quote.reason
    assert "< 2 x round-trip cost" in quote.reason


def test_entry_just_above_the_edge_threshold_is_allowed() -> None:
    quote = plan_entry(_req(target=D("100.2801")), FUT, RULES)
    assert isinstance(quote, EntryQuote)
    # both percentages are of the margin: the price move and cost times the leverage
    assert quote.move_pct == D("0.002801") * quote.leverage * 100
    assert quote.cost_pct == D("0.0014") * quote.leverage * 100


def test_edge_reason_carries_the_move_and_cost_as_shares_of_the_margin() -> None:
    quote = plan_entry(_req(target=D("100.1")), FUT, RULES)
    assert isinstance(quote, Refusal)
    lev = 4  # 1 % of 10,000 / (2 % + 0.14 %) of 100 = 46.7 units = 4673 notional; cap 1500
    assert f"expected move {D('0.001') * lev * 100:.3f}% of margin" in quote.reason
    assert f"round-trip cost {D('0.0014') * lev * 100:.3f}% of margin (leverage {lev})" in (
        quote.reason
    )


def test_edge_filter_off_at_ratio_zero_and_without_a_target() -> None:
    off = EntryRules(0.5, 1.0, 50, 1.5, 0.0)
    assert isinstance(plan_entry(_req(target=D("100.01")), FUT, off), EntryQuote)
    assert isinstance(plan_entry(_req(target=None), FUT, RULES), EntryQuote)


def test_risk_manager_counts_refusals_by_code() -> None:
    risk = RiskManager(RiskLimits(3, 50), lambda: True, costs=FUT, rules=RULES)
    risk.plan(_req(target=D("100.01")))
    risk.plan(_req(target=D("100.01")))
    risk.plan(_req(stop=D("99.9"), target=D(110)))  # widened, allowed
    sig = Signal("X", Direction.LONG, 10, 100.0, 0)
    risk.check_entry(sig, 0, False, D(1), D(1))
    # a signal refused bar after bar for one reason counts once (per symbol, per episode)
    assert risk.refusals == {"edge": 1, "confidence": 1}


# ---------------------------------------------------------------- stop rule


def test_stop_closer_than_the_atr_floor_is_widened_to_it() -> None:
    # 1.5 x ATR 0.5 = 0.75 away; the stop 0.2 away moves to 99.25
    stop, note = apply_stop_rule(_req(stop=D("99.8")), FUT, RULES)  # type: ignore[misc]
    assert stop == D("99.25")
    assert note is not None
    assert "widened to 0.750%" in note


def test_stop_closer_than_the_round_trip_cost_is_widened_to_the_cost() -> None:
    rules = EntryRules(0.5, 1.0, 50, min_stop_atr=0.0, min_edge_cost_ratio=0.0)
    stop, note = apply_stop_rule(_req(stop=D("99.95")), FUT, rules)  # type: ignore[misc]
    assert stop == D("99.86")  # 0.14 % below
    assert note is not None
    assert "round-trip cost 0.140%" in note


def test_stop_already_wide_enough_is_kept() -> None:
    assert apply_stop_rule(_req(stop=D(98)), FUT, RULES) == (D(98), None)


def test_a_strategy_that_refuses_tight_stops_gets_a_refusal_not_a_wider_stop() -> None:
    quote = plan_entry(_req(stop=D("99.8"), tight_stop="refuse"), FUT, RULES)
    assert isinstance(quote, Refusal)
    assert quote.code == "stop_too_tight"
    assert "1.5 x ATR 0.500%" in quote.reason


def test_short_stop_is_widened_upwards() -> None:
    req = _req(side=PositionSide.SHORT, stop=D("100.1"), target=D(95))
    quote = plan_entry(req, FUT, RULES)
    assert isinstance(quote, EntryQuote)
    assert quote.stop == D("100.75")


# ---------------------------------------------------------------- sizing


def test_size_follows_risk_and_stop_distance_with_the_smallest_leverage() -> None:
    # risk 1 % of 10,000 = 100; loss per unit 2 + 0.14 = 2.14 -> 46.728 units = 4672.9
    quote = plan_entry(_req(), FUT, RULES)
    assert isinstance(quote, EntryQuote)
    assert quote.risk_usd == D(100)
    assert quote.quantity == (D(100) / D("2.14")).quantize(D("1e-12"), "ROUND_FLOOR")
    assert quote.leverage == 4  # 3 x 1500 = 4500 < 4672.9 <= 4 x 1500
    assert quote.margin == quote.quantity * 100 / 4


def test_leverage_one_when_the_margin_cap_carries_the_size() -> None:
    quote = plan_entry(_req(margin_cap=D(5000)), FUT, RULES)
    assert isinstance(quote, EntryQuote)
    assert quote.leverage == 1


def test_regime_cap_cuts_the_size_not_the_risk_rule() -> None:
    quote = plan_entry(_req(max_leverage=2), FUT, RULES)
    assert isinstance(quote, EntryQuote)
    assert quote.leverage == 2
    assert quote.quantity * 100 <= D(3000)  # 1500 margin x 2


def test_liquidation_check_lowers_the_leverage_below_the_stop() -> None:
    # stop 12 % away: leverage 8 would liquidate ~12 % away (1/8 - 0.5 %); 7 is the most
    req = _req(stop=D(88), target=D(150), equity=D(1_000_000), mmr=D("0.005"))
    quote = plan_entry(req, FUT, RULES)
    assert isinstance(quote, EntryQuote)
    assert quote.leverage == 7
    liq = estimated_liquidation(PositionSide.LONG, D(100), quote.leverage)
    assert not stop_beyond_liquidation(PositionSide.LONG, quote.stop, liq)


def test_confidence_scales_the_risk_within_the_configured_range() -> None:
    low = plan_entry(_req(confidence=50, margin_cap=D(10**6)), FUT, RULES)
    mid = plan_entry(_req(confidence=75, margin_cap=D(10**6)), FUT, RULES)
    assert isinstance(low, EntryQuote)
    assert isinstance(mid, EntryQuote)
    assert (low.risk_usd, mid.risk_usd) == (D(50), D(75))


def test_legacy_rules_size_the_margin_cap_at_the_capped_leverage() -> None:
    rules = EntryRules(1, 1, 50, 0, 0, sized_by_risk=False)
    quote = plan_entry(_req(max_leverage=5), FUT, rules)
    assert isinstance(quote, EntryQuote)
    assert (quote.leverage, quote.quantity) == (5, D(75))


def test_size_capped_at_the_instruments_max_qty_with_the_leverage_it_needs() -> None:
    # risk sizing asks 46.7 units at leverage 4; one order may carry 20 (2,000 notional)
    quote = plan_entry(_req(max_qty=D(20)), FUT, RULES)
    assert isinstance(quote, EntryQuote)
    assert (quote.quantity, quote.leverage) == (D(20), 2)  # 2 x 1,500 carries 2,000
    assert quote.margin == D(1000)
    legacy = plan_entry(_req(max_qty=D(20)), FUT, EntryRules(1, 1, 50, 0, 0, sized_by_risk=False))
    assert isinstance(legacy, EntryQuote)
    assert legacy.quantity == D(20)


prices = st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2)
fracs = st.decimals(min_value=D("0.0001"), max_value=D("0.3"), places=4)


@PROPS
@given(
    price=prices, stop_frac=fracs, atr_frac=fracs, equity=st.integers(10, 10**7),
    cap_frac=st.decimals(min_value=D("0.001"), max_value=D(1), places=3),
    lev=st.integers(1, 125), conf=st.integers(0, 100), short=st.booleans(),
    taker=st.decimals(min_value=0, max_value=D("0.002"), places=5),
    slip=st.decimals(min_value=0, max_value=D("0.002"), places=5),
    risk_max=st.floats(min_value=0.01, max_value=5), mmr=st.booleans(),
)  # fmt: skip
def test_loss_at_the_stop_never_exceeds_the_risk_budget_plus_costs(
    price: Decimal, stop_frac: Decimal, atr_frac: Decimal, equity: int, cap_frac: Decimal,
    lev: int, conf: int, short: bool, taker: Decimal, slip: Decimal, risk_max: float,
    mmr: bool,
) -> None:  # fmt: skip
    side = PositionSide.SHORT if short else PositionSide.LONG
    costs = CostModel(taker, taker, slip)
    rules = EntryRules(risk_max / 2, risk_max, 50, 1.0, 0.0)
    req = EntryRequest(
        side, price, price * atr_frac, price * (1 - side.sign * stop_frac), None, conf,
        D(equity), D(equity) * cap_frac, lev, mmr=D("0.005") if mmr else None,
    )  # fmt: skip
    quote = plan_entry(req, costs, rules)
    if isinstance(quote, Refusal):
        assert quote.code in {"liquidation", "size"}
        return
    loss_at_stop = quote.quantity * abs(price - quote.stop)
    costs_paid = quote.quantity * price * costs.round_trip()
    budget = D(equity) * D(str(rules.risk_pct(conf))) / 100
    assert loss_at_stop <= budget + costs_paid
    assert loss_at_stop + costs_paid <= budget * (1 + D("1e-9"))  # costs are in the budget
    assert 1 <= quote.leverage <= lev
    assert quote.margin <= req.margin_cap * (1 + D("1e-9"))
    if mmr and quote.leverage > 1:
        liq = estimated_liquidation(side, price, quote.leverage)
        assert not stop_beyond_liquidation(side, quote.stop, liq)


# ---------------------------------------------------------------- remembered round trip


def test_each_cost_model_and_holding_time_prices_its_own_round_trip() -> None:
    # the round trip is remembered for the last (model, holding time): two engines'
    # models (or a runtime change) alternating never see each other's
    cheap = CostModel(D("0.0001"), D("0.0001"), D("0"))
    rules = [RULES, EntryRules(0.5, 1.0, 50, 1.5, 2.0, holding_s=86_400.0)]
    funded = CostModel(D("0.0005"), D("0.0002"), D("0.0002"), funding_rate=D("0.001"))
    for _ in range(2):
        for costs in (FUT, cheap, funded):
            for rule in rules:
                quote = plan_entry(_req(), costs, rule)
                assert isinstance(quote, EntryQuote)
                trip = costs.round_trip(rule.holding_s)
                assert quote.cost_pct == CostModel.of_margin(trip, quote.leverage) * 100


def test_a_widened_stop_sizes_with_its_new_distance() -> None:
    quote = plan_entry(_req(stop=D("99.9")), FUT, RULES)  # closer than 1.5 x ATR: widened
    assert isinstance(quote, EntryQuote)
    assert quote.widened is not None
    kept = plan_entry(_req(stop=quote.stop), FUT, RULES)  # that stop, given as it is
    assert isinstance(kept, EntryQuote)
    assert kept.widened is None
    assert (kept.quantity, kept.leverage, kept.risk_usd) == (
        quote.quantity,
        quote.leverage,
        quote.risk_usd,
    )

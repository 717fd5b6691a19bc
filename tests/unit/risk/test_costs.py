"""CostModel: fees both ways, slippage, expected funding, leverage; shared with the SimExchange."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import UnifiedConfig
from kinetic.clock import ManualClock
from kinetic.costs import FUNDING_INTERVAL_S, CostModel
from kinetic.domain import Candle, MarketType, OrderIntent, OrderType, Side
from kinetic.venues.sim import SimFuturesExchange, default_instruments
from kinetic.wiring import make_sim_venue

D = Decimal
PROPS = settings(max_examples=200, deadline=None)
rates = st.decimals(min_value=0, max_value=D("0.01"), places=6)


def test_for_engine_reads_the_spot_and_futures_rates_from_config() -> None:
    cfg = UnifiedConfig(
        taker_fee_pct=0.1, maker_fee_pct=0.08, futures_taker_fee_pct=0.05,
        futures_maker_fee_pct=0.02, slippage_bps=2.0, futures_expected_funding_rate_pct=0.01,
    )  # fmt: skip
    spot = CostModel.for_engine(cfg, "spot")
    fut = CostModel.for_engine(cfg, "futures")
    assert (spot.taker_fee, spot.maker_fee, spot.slippage, spot.funding_rate) == (
        D("0.001"), D("0.0008"), D("0.0002"), D(0),
    )  # fmt: skip
    assert (fut.taker_fee, fut.maker_fee, fut.funding_rate) == (
        D("0.0005"),
        D("0.0002"),
        D("0.0001"),
    )


def test_round_trip_is_both_taker_fees_both_slippages_and_funding_over_the_holding_time() -> None:
    costs = CostModel(D("0.0005"), D("0.0002"), D("0.0002"), D("0.0001"))
    assert costs.round_trip() == D("0.0014")
    # 16 hours = two funding intervals
    assert costs.round_trip(2 * FUNDING_INTERVAL_S) == D("0.0014") + D("0.0002")
    assert costs.exit_cost() == D("0.0007")


def test_of_margin_scales_a_cost_by_the_leverage() -> None:
    # the example: 0.05 % taker both ways at 8x costs 0.8 % of the margin
    costs = CostModel(D("0.0005"), D("0.0002"), D(0))
    assert CostModel.of_margin(costs.round_trip(), 8) * 100 == D("0.8000")
    with pytest.raises(ValueError, match="leverage"):
        CostModel.of_margin(D("0.001"), 0)


def test_negative_rates_are_rejected() -> None:
    with pytest.raises(ValueError, match="taker_fee"):
        CostModel(D("-0.001"), D(0), D(0))


@PROPS
@given(taker=rates, maker=rates, slip=rates, funding=rates,
       hours=st.floats(min_value=0, max_value=1000), lev=st.integers(1, 125))  # fmt: skip
def test_round_trip_grows_with_holding_time_and_leverage_scales_it_linearly(
    taker: Decimal, maker: Decimal, slip: Decimal, funding: Decimal, hours: float, lev: int
) -> None:
    costs = CostModel(taker, maker, slip, funding)
    short, long_ = costs.round_trip(hours * 3600), costs.round_trip(hours * 3600 + 3600)
    assert 2 * (taker + slip) <= short <= long_
    assert CostModel.of_margin(short, lev) == short * lev
    assert costs.fee(D(1000)) == D(1000) * taker
    assert costs.fee(D(1000), maker=True) == D(1000) * maker


async def test_sim_venue_charges_its_fills_through_the_engines_cost_model() -> None:
    cfg = UnifiedConfig(futures_taker_fee_pct=0.04, slippage_bps=5.0)
    clock = ManualClock(1_700_000_000)
    venue = make_sim_venue(cfg, "futures", ["BTCUSDT"], clock, D(10_000))
    assert isinstance(venue, SimFuturesExchange)
    assert venue.costs == CostModel.for_engine(cfg, "futures")
    t = 1_700_000_000_000
    venue.on_candle(Candle("BTCUSDT", t - 60_000, t - 1, 100.0, 100.0, 100.0, 100.0, 1.0))
    intent = OrderIntent("futures", "BTCUSDT", Side.BUY, OrderType.MARKET, D("1.000"), "c1")
    await venue.place_order(intent)
    [fill] = await venue.get_fills("BTCUSDT")
    # 5 bps slippage on 100 -> 100.05; fee = notional x 0.04 %
    assert fill.price == D("100.1")  # 100.05 rounded up to the 0.10 tick
    assert fill.fee == venue.costs.fee(fill.price * fill.quantity)
    assert default_instruments(MarketType.FUTURES, ["BTCUSDT"])  # the symbol is known

"""Hypothesis: the SimExchange's books agree exactly with a mark-to-market model of its fills."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.clock import ManualClock
from kinetic.domain import ZERO, Candle, Fill, MarketType, OrderIntent, OrderType, Side
from kinetic.venues.base.errors import InsufficientFunds
from kinetic.venues.sim import SimFuturesExchange, SimSpotExchange, default_instruments

SYM = "BTCUSDT"
INITIAL = Decimal("10000000")

# (side, quantity in steps, price in tenths): prices stay within 30k..59k so a 1x
# position can never reach its liquidation price.
trades = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=4, max_value=300),
        st.integers(min_value=300_000, max_value=590_000),
    ),
    min_size=1,
    max_size=30,
)
slippages = st.sampled_from([Decimal(0), Decimal(3), Decimal("12.5")])


def _candle(tenths: int, ts: int) -> Candle:
    price = tenths / 10
    return Candle(SYM, ts, ts + 59_999, price, price, price, price, 1.0)


def _intent(side: Side, qty: Decimal, i: int) -> OrderIntent:
    return OrderIntent("prop", SYM, side, OrderType.MARKET, qty, f"p-{i}")


def _mark_to_market(fills: list[Fill], mark: Decimal) -> tuple[Decimal, Decimal]:
    """Return (trading PnL at ``mark``, fees) computed from the fills alone."""
    pnl = fees = ZERO
    for f in fills:
        sign = 1 if f.side is Side.BUY else -1
        pnl += sign * f.quantity * (mark - f.price)
        fees += f.fee
    return pnl, fees


@settings(max_examples=100, deadline=None)
@given(ops=trades, slippage=slippages)
async def test_futures_equity_equals_initial_plus_pnl_minus_fees(
    ops: list[tuple[Side, int, int]], slippage: Decimal
) -> None:
    ex = SimFuturesExchange(
        default_instruments(MarketType.FUTURES, [SYM]),
        ManualClock(),
        INITIAL,
        slippage_bps=slippage,
    )
    for i, (side, steps, tenths) in enumerate(ops):
        ex.on_candle(_candle(tenths, i * 60_000))
        await ex.place_order(_intent(side, Decimal(steps) * Decimal("0.001"), i))
    mark = ex.last_price(SYM)
    assert mark is not None
    pnl, fees = _mark_to_market(await ex.get_fills(SYM), mark)
    assert ex.fees_paid() == fees
    assert ex.wallet_balance() == INITIAL + ex.realized_pnl() - fees
    assert ex.wallet_balance() + ex.unrealized_pnl() == INITIAL + pnl - fees
    assert ex.equity() == INITIAL + pnl - fees


@settings(max_examples=100, deadline=None)
@given(ops=trades, slippage=slippages)
async def test_spot_value_is_conserved_minus_fees(
    ops: list[tuple[Side, int, int]], slippage: Decimal
) -> None:
    ex = SimSpotExchange(
        default_instruments(MarketType.SPOT, [SYM]),
        ManualClock(),
        {"USDT": Decimal("100000")},
        slippage_bps=slippage,
    )
    for i, (side, steps, tenths) in enumerate(ops):
        ex.on_candle(_candle(tenths, i * 60_000))
        try:
            await ex.place_order(_intent(side, Decimal(steps) * Decimal("0.0001"), i))
        except InsufficientFunds:
            continue
    mark = ex.last_price(SYM)
    assert mark is not None
    pnl, fees = _mark_to_market(await ex.get_fills(SYM), mark)
    balances = await ex.get_balances()
    assert all(b.locked == 0 and b.free >= 0 for b in balances.values())
    assert ex.equity() == Decimal("100000") + pnl - fees

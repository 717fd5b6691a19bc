"""Property: PositionManager's books balance for any sequence of fills.

* equity == starting cash + realized PnL (net of fees) + unrealized PnL, spot and futures;
* spot cash is conserved exactly: start - sum(buy notional + fee) + sum(sell notional - fee);
* futures cash moves only by realized PnL: cash == start + realized, and the position
  quantity always equals the net filled quantity.

Weighted-average entry prices are Decimal divisions (28 significant digits), so the
identities that go through the entry price hold to within ``TOLERANCE``; the ones that
do not (spot cash, quantities) are checked exactly.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import ZERO, Fill, MarketType, PositionSide, Side
from kinetic.portfolio.positions import PositionManager

D = Decimal
START = D("100000")
FEE_RATE = D("0.0004")
TOLERANCE = D("1e-12")
SYMBOLS = ("BTCUSDT", "ETHUSDT")

step = st.tuples(
    st.sampled_from(SYMBOLS),
    st.booleans(),  # True: open or add; False: reduce (when a position exists)
    st.sampled_from([Side.BUY, Side.SELL]),  # side of a new position (futures)
    st.integers(1, 5_000),  # quantity in 0.001
    st.integers(100, 10_000_000),  # price in 0.01
    st.integers(1, 100),  # percent of the position to reduce
)


Step = tuple[str, bool, Side, int, int, int]


def _run(market: MarketType, steps: list[Step], marks: list[int]) -> None:
    pm = PositionManager("prop", market, START)
    expected_cash = START
    net_qty = dict.fromkeys(SYMBOLS, ZERO)
    for n, (symbol, grow, new_side, q_milli, p_cents, pct) in enumerate(steps):
        price = D(p_cents) / 100
        pos = pm.positions.get(symbol)
        if pos is None or grow:
            side = new_side if market is MarketType.FUTURES else Side.BUY
            side = pos.side.entry_side if pos is not None else side
            qty = D(q_milli) / 1000
        else:
            side = pos.side.exit_side
            qty = max(D("0.001"), (pos.quantity * pct / 100).quantize(D("0.001")))
            qty = min(qty, pos.quantity)
        fee = qty * price * FEE_RATE
        pm.apply_fill(Fill(f"t{n}", f"c{n}", symbol, side, qty, price, fee, "USDT", n))

        sign = 1 if side is Side.BUY else -1
        net_qty[symbol] += sign * qty
        if market is MarketType.SPOT:
            expected_cash += -sign * qty * price - fee

        prices = {s: D(marks[i % len(marks)]) / 100 for i, s in enumerate(SYMBOLS)}
        equity = pm.equity(prices)
        assert abs(equity - (START + pm.realized_pnl + pm.unrealized(prices))) <= TOLERANCE
        for s in SYMBOLS:
            p = pm.positions.get(s)
            held = ZERO if p is None else p.quantity * p.side.sign
            assert held == net_qty[s]
        if market is MarketType.SPOT:
            assert pm.cash == expected_cash
        else:
            assert abs(pm.cash - (START + pm.realized_pnl)) <= TOLERANCE
            assert pm.available(prices) == pm.cash - pm.exposure(prices)


@settings(max_examples=100)
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    marks=st.lists(st.integers(100, 10_000_000), min_size=2, max_size=2),
)
def test_spot_equity_equals_start_plus_realized_plus_unrealized_and_cash_is_conserved(
    steps: list[tuple[str, bool, Side, int, int, int]], marks: list[int]
) -> None:
    _run(MarketType.SPOT, steps, marks)


@settings(max_examples=100)
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    marks=st.lists(st.integers(100, 10_000_000), min_size=2, max_size=2),
)
def test_futures_equity_equals_start_plus_realized_plus_unrealized(
    steps: list[tuple[str, bool, Side, int, int, int]], marks: list[int]
) -> None:
    _run(MarketType.FUTURES, steps, marks)


@settings(max_examples=100)
@given(
    side=st.sampled_from([PositionSide.LONG, PositionSide.SHORT]),
    entries=st.lists(
        st.tuples(st.integers(1, 1000), st.integers(100, 1_000_000)), min_size=1, max_size=5
    ),
    exit_cents=st.integers(100, 1_000_000),
)
def test_closed_trade_pnl_equals_realized_change_over_the_round_trip(
    side: PositionSide, entries: list[tuple[int, int]], exit_cents: int
) -> None:
    pm = PositionManager("prop", MarketType.FUTURES, START)
    total = ZERO
    for n, (q, p) in enumerate(entries):
        qty, price = D(q) / 1000, D(p) / 100
        total += qty
        pm.apply_fill(
            Fill(
                f"e{n}",
                "c",
                "BTCUSDT",
                side.entry_side,
                qty,
                price,
                qty * price * FEE_RATE,
                "USDT",
                n,
            )
        )
    exit_price = D(exit_cents) / 100
    trade = pm.apply_fill(
        Fill(
            "x",
            "c",
            "BTCUSDT",
            side.exit_side,
            total,
            exit_price,
            total * exit_price * FEE_RATE,
            "USDT",
            99,
        )
    )
    assert trade is not None
    assert trade.quantity == total
    assert abs(trade.pnl - pm.realized_pnl) <= TOLERANCE
    assert (trade.pnl + trade.fees > 0) == ((exit_price - trade.entry_price) * side.sign > 0) or (
        abs(trade.pnl + trade.fees) <= TOLERANCE
    )

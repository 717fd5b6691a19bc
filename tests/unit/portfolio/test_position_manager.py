"""PositionManager: exact Decimal cash, margin, average entry and closed-trade accounting."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from kinetic.domain import Fill, MarketType, PositionSide, Side
from kinetic.portfolio.positions import EntryPlan, PositionManager

D = Decimal
SYM = "BTCUSDT"
_ids = itertools.count(1)


def fill(side: Side, qty: str, price: str, fee: str = "0", ts: int = 0, symbol: str = SYM) -> Fill:
    n = next(_ids)
    return Fill(f"t{n}", f"c{n}", symbol, side, D(qty), D(price), D(fee), "USDT", ts)


def spot(cash: str = "1000") -> PositionManager:
    return PositionManager("spot", MarketType.SPOT, D(cash))


def futures(cash: str = "1000") -> PositionManager:
    return PositionManager("futures", MarketType.FUTURES, D(cash))


def plan(side: PositionSide, leverage: int = 1) -> EntryPlan:
    return EntryPlan(side, D("1"), None, leverage, 70, "test")


# ---------------------------------------------------------------------- spot


def test_spot_buy_spends_notional_plus_fee_exactly() -> None:
    pm = spot("1000")
    pm.apply_fill(fill(Side.BUY, "0.3", "123.45", fee="0.037035"), plan(PositionSide.LONG))
    assert pm.cash == D("1000") - D("0.3") * D("123.45") - D("0.037035")
    assert pm.cash == D("962.927965")
    assert pm.realized_pnl == D("-0.037035")
    assert pm.fees_paid == D("0.037035")
    pos = pm.positions[SYM]
    assert (pos.side, pos.quantity, pos.entry_price) == (PositionSide.LONG, D("0.3"), D("123.45"))


def test_spot_round_trip_returns_proceeds_minus_fee_and_books_net_pnl() -> None:
    pm = spot("1000")
    pm.apply_fill(fill(Side.BUY, "0.5", "100", fee="0.05"), plan(PositionSide.LONG))
    trade = pm.apply_fill(fill(Side.SELL, "0.5", "110", fee="0.055", ts=9), reason="take_profit")
    assert pm.cash == D("1000") - D("50.05") + D("54.945")
    assert pm.cash == D("1004.895")
    assert pm.realized_pnl == D("4.895")
    assert pm.equity({SYM: D("999")}) == pm.cash  # nothing held
    assert trade is not None
    assert trade.pnl == D("4.895")
    assert trade.fees == D("0.105")
    assert (trade.quantity, trade.entry_price, trade.exit_price) == (D("0.5"), D("100"), D("110"))
    assert trade.exit_reason == "take_profit"
    assert trade.closed_ms == 9
    assert not pm.has_position(SYM)


def test_spot_equity_is_cash_plus_market_value() -> None:
    pm = spot("1000")
    pm.apply_fill(fill(Side.BUY, "2", "100", fee="0.2"))
    assert pm.equity({SYM: D("105")}) == D("799.8") + D("210")
    assert pm.exposure({SYM: D("105")}) == D("210")
    assert pm.available({SYM: D("105")}) == D("799.8")


# ---------------------------------------------------------------------- futures


def test_futures_entry_charges_only_fee_and_reserves_margin() -> None:
    pm = futures("1000")
    pm.apply_fill(fill(Side.BUY, "2", "100", fee="0.1"), plan(PositionSide.LONG, leverage=4))
    assert pm.cash == D("999.9")
    assert pm.exposure({SYM: D("120")}) == D("50")  # 2 x 100 / 4, at entry price
    assert pm.available({SYM: D("120")}) == D("949.9")
    assert pm.equity({SYM: D("120")}) == D("999.9") + D("40")
    assert pm.positions[SYM].leverage == 4


def test_futures_close_moves_wallet_by_realized_pnl_minus_fees() -> None:
    pm = futures("1000")
    pm.apply_fill(fill(Side.BUY, "2", "100", fee="0.1"), plan(PositionSide.LONG, leverage=5))
    trade = pm.apply_fill(fill(Side.SELL, "2", "90", fee="0.09"), reason="stop_loss")
    assert pm.cash == D("1000") - D("0.1") - D("20") - D("0.09")
    assert pm.realized_pnl == pm.cash - D("1000")
    assert pm.exposure({}) == 0
    assert trade is not None
    assert trade.pnl == D("-20.19")
    assert trade.leverage == 5


def test_futures_short_profits_when_price_falls_and_loses_when_it_rises() -> None:
    win = futures()
    win.apply_fill(fill(Side.SELL, "1", "100"), plan(PositionSide.SHORT))
    assert win.unrealized({SYM: D("90")}) == D("10")
    t_win = win.apply_fill(fill(Side.BUY, "1", "90"))
    assert t_win is not None
    assert t_win.side is PositionSide.SHORT
    assert t_win.pnl == D("10")
    assert t_win.exit_price == D("90")

    loss = futures()
    loss.apply_fill(fill(Side.SELL, "1", "100"), plan(PositionSide.SHORT))
    assert loss.unrealized({SYM: D("110")}) == D("-10")
    t_loss = loss.apply_fill(fill(Side.BUY, "1", "110"))
    assert t_loss is not None
    assert t_loss.pnl == D("-10")
    assert loss.cash == D("990")


def test_entry_fill_contradicting_plan_side_is_refused() -> None:
    with pytest.raises(ValueError):
        futures().apply_fill(fill(Side.SELL, "1", "100"), plan(PositionSide.LONG))


# ---------------------------------------------------------------------- scale-in and partial closes


@pytest.mark.parametrize("make", [spot, futures])
def test_scale_in_sets_weighted_average_entry_and_sums_fees(make) -> None:  # type: ignore[no-untyped-def]
    pm = make("100000")
    pm.apply_fill(fill(Side.BUY, "1", "100", fee="0.1"), plan(PositionSide.LONG))
    pm.apply_fill(fill(Side.BUY, "3", "120", fee="0.36"))
    pos = pm.positions[SYM]
    assert pos.quantity == D("4")
    assert pos.entry_price == D("115")  # (100 + 360) / 4
    assert pos.fees == D("0.46")


@pytest.mark.parametrize("make", [spot, futures])
def test_partial_closes_produce_one_closed_trade_with_summed_quantity(make) -> None:  # type: ignore[no-untyped-def]
    pm = make("100000")
    pm.apply_fill(fill(Side.BUY, "4", "100", fee="0.4"), plan(PositionSide.LONG))
    assert pm.apply_fill(fill(Side.SELL, "1", "110", fee="0.11")) is None
    assert pm.apply_fill(fill(Side.SELL, "1", "120", fee="0.12")) is None
    assert pm.positions[SYM].quantity == D("2")
    trade = pm.apply_fill(fill(Side.SELL, "2", "90", fee="0.18", ts=5), reason="stop_loss")
    assert trade is not None
    assert trade.quantity == D("4")
    gross = D("10") + D("20") - D("20")
    assert trade.fees == D("0.4") + D("0.11") + D("0.12") + D("0.18")
    assert trade.pnl == gross - trade.fees
    assert trade.exit_price == D("102.5")  # quantity-weighted: (110 + 120 + 2 x 90) / 4
    assert trade.exit_reason == "stop_loss"
    assert pm.closed_trades == 1
    assert pm.realized_pnl == trade.pnl
    assert pm.cash == D("100000") + trade.pnl  # flat again: cash moved by the net PnL only


def test_spot_partial_close_cash_is_exact() -> None:
    pm = spot("1000")
    pm.apply_fill(fill(Side.BUY, "3", "100", fee="0.3"))
    pm.apply_fill(fill(Side.SELL, "1", "101.01", fee="0.10101"))
    assert pm.cash == D("1000") - D("300.3") + D("101.01") - D("0.10101")
    assert pm.positions[SYM].quantity == D("2")
    assert pm.positions[SYM].fees == D("0.2")


def test_funding_moves_cash_and_realized_pnl() -> None:
    pm = futures("1000")
    pm.apply_funding(D("-1.25"))
    pm.apply_funding(D("0.5"))
    assert pm.cash == D("999.25")
    assert pm.realized_pnl == D("-0.75")
    assert pm.funding == D("-0.75")


def test_spot_buy_fee_charged_in_base_asset_then_position_holds_net_quantity() -> None:
    from decimal import Decimal as _D

    from kinetic.domain import Fill as _Fill
    from kinetic.domain import MarketType as _MT
    from kinetic.domain import Side as _Side
    from kinetic.portfolio.positions import PositionManager as _PM

    pm = _PM("spot", _MT.SPOT, _D(1000), quote="USDT")
    fill = _Fill("t1", "c1", "BTCUSDT", _Side.BUY, _D(1), _D(100), _D("0.001"), "BTC", 1)
    pm.apply_fill(fill)
    pos = pm.positions["BTCUSDT"]
    assert pos.quantity == _D("0.999")  # what the account really holds
    assert pm.cash == _D(900)  # paid exactly qty * price
    assert pm.fees_paid == _D("0.100")  # the fee valued in the quote asset


# ---------------------------------------------------------------------- *_now


@pytest.mark.parametrize("make", [spot, futures])
def test_figures_now_ask_for_prices_only_when_a_position_is_held(make) -> None:  # type: ignore[no-untyped-def]
    pm = make("1E+3")  # an exponent that ``cash + ZERO`` changes: the flat figures keep it
    asked: list[int] = []

    def prices() -> dict[str, Decimal]:
        asked.append(1)
        return {SYM: D("110")}

    assert str(pm.equity_now(prices)) == str(pm.equity({})) == "1000"
    assert pm.exposure_now(prices) == 0
    assert pm.available_now(prices) == pm.cash
    assert asked == []  # a flat book reads no price
    pm.apply_fill(fill(Side.BUY, "1", "100"), plan(PositionSide.LONG))
    assert pm.equity_now(prices) == pm.equity({SYM: D("110")})
    assert pm.exposure_now(prices) == pm.exposure({SYM: D("110")})
    assert pm.available_now(prices) == pm.available({SYM: D("110")})
    # spot's free cash reads no price; futures' subtracts the margin in use
    assert len(asked) == (2 if pm.market is MarketType.SPOT else 3)

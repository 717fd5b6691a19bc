"""Drift: the engine's books against the venue's account, debounced, acted on in live."""

from __future__ import annotations

from decimal import Decimal

from kinetic.domain import Direction, MarketType, OrderType, PositionSide, Regime, TradingState
from kinetic.engines.base import AlwaysActive
from kinetic.engines.drift_check import DriftChecker
from kinetic.portfolio.drift import AccountView, compare
from tests.unit.engines.kit import World, futures_world

D = Decimal
ETH = "ETHUSDT"


def _view(cash: str, **positions: tuple[PositionSide, str]) -> AccountView:
    return AccountView(D(cash), {s: (side, D(q)) for s, (side, q) in positions.items()})


def _compare(book: AccountView, venue: AccountView, market: MarketType) -> list[str]:
    found = compare(
        book, venue, market, cash_tolerance_pct=1.0, qty_tolerance=lambda _s: D("0.001")
    )
    return [x.kind + ":" + x.symbol for x in found]


def test_compare_when_cash_within_tolerance_then_no_drift() -> None:
    assert _compare(_view("1000"), _view("1009.99"), MarketType.FUTURES) == []
    assert _compare(_view("1000"), _view("1010.01"), MarketType.FUTURES) == ["cash:"]


def test_compare_when_futures_position_size_or_side_differs_then_drift() -> None:
    book = _view("1000", ETHUSDT=(PositionSide.LONG, "1.0"))
    assert (
        _compare(book, _view("1000", ETHUSDT=(PositionSide.LONG, "1.0005")), MarketType.FUTURES)
        == []
    )
    assert _compare(
        book, _view("1000", ETHUSDT=(PositionSide.LONG, "0.5")), MarketType.FUTURES
    ) == ["position:ETHUSDT"]
    assert _compare(
        book, _view("1000", ETHUSDT=(PositionSide.SHORT, "1.0")), MarketType.FUTURES
    ) == ["position:ETHUSDT"]
    assert _compare(book, _view("1000"), MarketType.FUTURES) == ["position:ETHUSDT"]
    assert _compare(_view("1000"), book, MarketType.FUTURES) == ["position:ETHUSDT"]


def test_compare_when_spot_account_holds_more_coins_then_no_drift_but_fewer_is() -> None:
    book = _view("1000", BTCUSDT=(PositionSide.LONG, "0.5"))
    more = _view("1000", BTCUSDT=(PositionSide.LONG, "2"))
    fewer = _view("1000", BTCUSDT=(PositionSide.LONG, "0.4"))
    assert _compare(book, more, MarketType.SPOT) == []
    assert _compare(_view("1000"), more, MarketType.SPOT) == []  # the operator's own coins
    assert _compare(book, fewer, MarketType.SPOT) == ["position:BTCUSDT"]


def test_compare_when_open_orders_differ_then_each_side_reported() -> None:
    book = AccountView(None, {}, frozenset({"a", "b"}))
    venue = AccountView(None, {}, frozenset({"b", "c"}))
    found = compare(
        book, venue, MarketType.SPOT, cash_tolerance_pct=0, qty_tolerance=lambda _s: D(0)
    )
    assert [(x.book, x.venue) for x in found] == [("a open", "not open"), ("unknown", "c open")]


async def _entered(live: bool) -> tuple[World, DriftChecker, AlwaysActive]:
    w = futures_world()
    gate = AlwaysActive()
    w.engine.d.gate = gate
    w.engine.d.extra["live"] = live
    checker = DriftChecker(60, 1.0, halt_on_drift=True)
    c = w.candle(ETH, 2000.0, 2000.0, 2000.0, 2000.0)
    w.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, 1.2345, Regime.TRENDING, "entry")
    await w.step(c)
    assert ETH in w.positions.positions
    return w, checker, gate


async def test_drift_when_books_match_venue_then_nothing_found() -> None:
    w, checker, _gate = await _entered(live=True)
    assert await checker.check(w.engine) == []


async def test_drift_when_stop_cancelled_on_venue_then_confirmed_twice_and_halts_live() -> None:
    w, checker, gate = await _entered(live=True)
    [stop] = [
        o for o in await w.venue.get_open_orders(ETH) if o.order_type is OrderType.STOP_MARKET
    ]
    await w.venue.cancel_order(ETH, stop.client_order_id)  # by hand, behind the engine's back
    await checker.maybe_check(w.engine)
    assert not checker.drifting  # one sighting may be a race
    assert "drift" not in w.recorder.event_kinds()
    w.clock.advance(60)
    await checker.maybe_check(w.engine)
    assert checker.drifting
    assert "drift" in w.recorder.event_kinds()
    assert gate.state("futures") is TradingState.REDUCE_ONLY
    assert gate.causes[-1][3] == "drift"


async def test_drift_when_not_live_then_recorded_but_state_unchanged() -> None:
    w, checker, gate = await _entered(live=False)
    w.positions.cash += D(500)  # the books disagree with the wallet
    for _ in range(2):
        await checker.maybe_check(w.engine)
        w.clock.advance(60)
    assert checker.drifting
    assert [x.kind for x in checker.current] == ["cash"]
    assert gate.state("futures") is TradingState.ACTIVE


async def test_drift_when_difference_goes_away_then_resolved_event() -> None:
    w, checker, _gate = await _entered(live=True)
    w.positions.cash += D(500)
    for _ in range(2):
        await checker.maybe_check(w.engine)
        w.clock.advance(60)
    w.positions.cash -= D(500)
    await checker.maybe_check(w.engine)
    assert not checker.drifting
    assert "drift_resolved" in w.recorder.event_kinds()


async def test_drift_check_when_not_due_then_no_venue_read() -> None:
    w, checker, _gate = await _entered(live=True)
    await checker.maybe_check(w.engine)
    await checker.maybe_check(w.engine)  # same instant: not due
    w.clock.advance(59)
    await checker.maybe_check(w.engine)
    assert checker.checks == 1

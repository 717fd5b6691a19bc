"""``only_stops``: an engine may be skipped over only when its one kind of order rests."""

from __future__ import annotations

from types import SimpleNamespace

from kinetic.backtest.stretch import only_stops
from kinetic.domain import OrderType, PositionSide, Side


class _Oms:
    def __init__(self, tracked: bool) -> None:
        self.tracked = tracked

    def idle(self) -> bool:
        return not self.tracked

    def has_open_orders(self) -> bool:
        return self.tracked

    def open_orders(self) -> list[object]:
        return []

    def awaiting_fills(self, symbol: str) -> bool:
        return False


class _Venue:
    def __init__(self, resting: list[object]) -> None:
        self.resting = resting

    def has_open_orders(self) -> bool:
        return bool(self.resting)

    def resting_orders(self) -> list[object]:
        return self.resting


def _slot(tracked: bool, resting: list[object]) -> SimpleNamespace:
    d = SimpleNamespace(oms=_Oms(tracked), positions=SimpleNamespace(positions={}))
    return SimpleNamespace(engine=SimpleNamespace(d=d), venue=_Venue(resting))


def test_an_idle_oms_with_nothing_resting_is_settled() -> None:
    assert only_stops(_slot(False, []))


def test_an_order_resting_on_the_venue_that_the_oms_does_not_track_is_not() -> None:
    """The OMS idle (its fast path) must still look at the venue."""
    order = SimpleNamespace(client_order_id="x", symbol="BTCUSDT")
    assert not only_stops(_slot(False, [order]))
    assert not only_stops(_slot(True, [order]))  # the general path agrees


class _Tracking(_Oms):
    def __init__(self, orders: list[object]) -> None:
        super().__init__(True)
        self.orders = orders

    def open_orders(self) -> list[object]:
        return self.orders


def _stop(cid: str, side: Side = Side.SELL) -> SimpleNamespace:
    kind = OrderType.STOP_MARKET
    return SimpleNamespace(client_order_id=cid, symbol="BTCUSDT", reduce_only=True,
                           order_type=kind, stop_price=90.0, side=side)  # fmt: skip


def _held(mine: list[object], resting: list[object], side: PositionSide) -> SimpleNamespace:
    book = {"BTCUSDT": SimpleNamespace(side=side)}
    d = SimpleNamespace(oms=_Tracking(mine), positions=SimpleNamespace(positions=book))
    return SimpleNamespace(engine=SimpleNamespace(d=d), venue=_Venue(resting))


def test_one_tracked_stop_must_be_the_one_resting_on_its_exit_side() -> None:
    """One order each side (the fast path without sets): the same id and the position's
    exit side, or not only stops."""
    assert only_stops(_held([_stop("a")], [_stop("a")], PositionSide.LONG))
    assert not only_stops(_held([_stop("a")], [_stop("b")], PositionSide.LONG))
    assert not only_stops(_held([_stop("a")], [_stop("a")], PositionSide.SHORT))
    short = _stop("a", Side.BUY)
    assert only_stops(_held([short], [short], PositionSide.SHORT))
    assert not only_stops(_held([short], [short], PositionSide.LONG))
    # several orders: compared as sets of ids
    two = [_stop("a"), _stop("b")]
    assert only_stops(_held(two, list(reversed(two)), PositionSide.LONG))
    assert not only_stops(_held(two, [_stop("a"), _stop("c")], PositionSide.LONG))
    assert not only_stops(_held([_stop("a")], two, PositionSide.LONG))

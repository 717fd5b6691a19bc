"""``only_stops``: an engine may be skipped over only when its one kind of order rests."""

from __future__ import annotations

from types import SimpleNamespace

from kinetic.backtest.stretch import only_stops


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

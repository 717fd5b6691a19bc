"""``declares_action_bars``: the protocol check of the affordability gate, remembered."""

from __future__ import annotations

from kinetic.backtest import affordable
from kinetic.backtest.affordable import declares_action_bars
from kinetic.strategy.base import ActionBars
from kinetic.strategy.sma_cross import SmaCrossStrategy


class _Declares:
    """Declares its acting bars (the protocol's members)."""

    def action_bars(self, symbol: str, arrays: object) -> tuple[object, object]:
        return (), ()

    def fast_forward(self, symbol: str, arrays: object, start: int, stop: int) -> None:
        return None


def test_the_answer_is_the_protocol_check_per_object_every_time() -> None:
    sma, trend = SmaCrossStrategy(), _Declares()
    assert not isinstance(sma, ActionBars)
    assert isinstance(trend, ActionBars)
    for _ in range(2):  # asked again: the remembered answer, per object
        assert declares_action_bars(sma) is False
        assert declares_action_bars(trend) is True


def test_what_it_remembers_stays_bounded() -> None:
    for _ in range(200):
        declares_action_bars(SmaCrossStrategy())
    assert len(affordable._DECLARES) <= 65

"""``configured_for_it``: the strategy must declare its acting bars (``ActionBars``), and
asking keeps no strategy alive (an optimize worker builds one per trial)."""

from __future__ import annotations

import gc
import weakref
from decimal import Decimal
from types import SimpleNamespace

from kinetic.backtest.affordable import configured_for_it
from kinetic.backtest.world import FillPriceSizer
from kinetic.domain import MarketType
from kinetic.strategy.base import ActionBars
from kinetic.strategy.sma_cross import SmaCrossStrategy


class _Declares:
    """Declares its acting bars (the protocol's members)."""

    def action_bars(self, symbol: str, arrays: object) -> tuple[object, object]:
        return (), ()

    def fast_forward(self, symbol: str, arrays: object, start: int, stop: int) -> None:
        return None


def _engine(strategy: object) -> SimpleNamespace:
    """A flat spot engine with a rule set the gate accepts, but for the strategy."""
    zero = Decimal(0)
    sizer = FillPriceSizer(None, {}, zero, zero, True, zero, None)
    risk = SimpleNamespace(
        limits=SimpleNamespace(min_confidence=0, max_positions=1),
        rules=SimpleNamespace(min_confidence=0, sized_by_risk=False, min_edge_cost_ratio=0),
    )
    d = SimpleNamespace(sizer=sizer, strategy=strategy, risk=risk, config=None)
    return SimpleNamespace(d=d, market=MarketType.SPOT)


def test_the_answer_is_the_protocol_check_every_time() -> None:
    sma, trend = SmaCrossStrategy(), _Declares()
    assert not isinstance(sma, ActionBars)
    assert isinstance(trend, ActionBars)
    for _ in range(2):  # asked again: the same answer, per object
        assert configured_for_it(_engine(sma)) is False
        assert configured_for_it(_engine(trend)) is True


def test_asking_keeps_no_strategy_alive() -> None:
    for cls in (_Declares, SmaCrossStrategy):
        strategy = cls()
        configured_for_it(_engine(strategy))
        gone = weakref.ref(strategy)
        del strategy
        gc.collect()
        assert gone() is None

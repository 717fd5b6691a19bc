"""The backtest recorder keeps the journal's duplicate-fill guard."""

from __future__ import annotations

from decimal import Decimal

from kinetic.backtest.recorder import BacktestRecorder
from kinetic.domain import Fill, Side


async def test_a_fill_seen_again_is_refused_so_it_is_never_applied_twice() -> None:
    rec = BacktestRecorder()
    fill = Fill("t-1", "c-1", "BTCUSDT", Side.BUY, Decimal(1), Decimal(100), Decimal(0), "USDT", 0)
    assert await rec.record_fill("spot", fill) is True
    assert await rec.record_fill("spot", fill) is False
    assert rec.fills == 1

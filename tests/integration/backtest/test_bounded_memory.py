"""Engines, OMSes and the SimExchange keep what is live, not their history (issue 13).

Both engines trade random signals on two symbols with so little cash that many futures
entries are refused by the venue (below its minimum notional), the others fill, and
every spot position's resting stop is cancelled when it closes.
Every step samples what the OMSes and the simulators retain (object counts, never
timings): the maxima stay bounded by what is open, while the journal counts every order.
"""

from __future__ import annotations

from typing import Any

import pytest

from kinetic.backtest import world as world_module
from kinetic.backtest.driver import Driver
from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.runner import BacktestRunner
from kinetic.backtest.world import build_world
from kinetic.domain import Candle, Signal
from kinetic.execution.oms import RECENT_FINAL, RECENT_REASONS
from tests.unit.backtest.bt_kit import ROOT, base_config

DATA = ROOT / "data/backtest"
FINAL_KEPT = 300  # the simulators' window of final orders (a backtest's), smaller here


@pytest.mark.slow
async def test_thousands_of_refused_cancelled_and_filled_orders_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(world_module, "VENUE_HISTORY", FINAL_KEPT)
    opts = BacktestOptions(
        engines=("spot", "futures"), symbols=("BTCUSDT", "ETHUSDT"),
        data=(DATA / "binance_BTCUSDT_1m_2021-04-20_2021-05-20.csv.gz",
              DATA / "binance_ETHUSDT_1m_2021-04-20_2021-05-20.csv.gz"),
        strategy="random_signals", params={"p": "0.45"}, cash=600.0, skip=False,
        end_ms=1_619_049_600_000 + 6 * 86_400_000,
        sets={"global_daily_loss_limit_pct": "100", "global_max_drawdown_pct": "100",
              "futures_blacklist_duration_minutes": "0"},
    )  # fmt: skip
    config, series, funding = BacktestRunner(base_config(), opts).prepare()
    first = min(int(a.open_time_ms[0]) + a.interval_ms - 1 for a in series.values())
    world = build_world(config, opts, list(series), (first + 1) / 1000.0)
    peak: dict[str, int] = {}

    def sample() -> None:
        for slot in world.slots:
            counts = {f"oms_{k}": v for k, v in slot.engine.d.oms.retained().items()}
            counts |= {f"venue_{k}": v for k, v in slot.venue.retained().items()}
            for key, value in counts.items():
                peak[key] = max(peak.get(key, 0), value)

    for slot in world.slots:  # sample on every strategy call: once per symbol and step
        strategy: Any = slot.engine.d.strategy
        inner = strategy.on_candle

        def on_candle(candle: Candle, inner: Any = inner) -> Signal:
            sample()
            signal: Signal = inner(candle)
            return signal

        strategy.on_candle = on_candle
    await Driver(world, series, opts.fill, funding, None, skip=False).run()
    sample()
    orders = world.recorder.orders
    assert orders > 10_000, orders  # thousands of orders went through the journal
    assert world.recorder.fills > 2_000
    # what the OMSes keep: the open orders (a stop and an entry per symbol at most)
    assert peak["oms_orders"] <= 6
    assert peak["oms_reasons"] <= 6
    assert peak["oms_venue_filled"] <= 6
    assert peak["oms_final"] <= RECENT_FINAL
    assert peak["oms_recent_reasons"] <= RECENT_REASONS
    # what the simulators keep: the open orders and a fixed window of the history
    assert peak["venue_open"] <= 6
    assert peak["venue_orders"] <= FINAL_KEPT + 6
    assert peak["venue_fills"] <= 2 * 2 * FINAL_KEPT + 2

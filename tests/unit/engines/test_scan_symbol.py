"""``BaseEngine.scan_symbol``: ``scan_once`` for one symbol, up to ``on_signal``."""

from __future__ import annotations

from kinetic.domain import Direction
from tests.unit.engines.kit import futures_world, spot_world

BTC = "BTCUSDT"
ETH = "ETHUSDT"


async def test_scan_symbol_feeds_every_new_candle_and_returns_the_last_signal() -> None:
    w = spot_world("10000", symbols=(BTC, ETH))
    c1 = w.candle(BTC, 100.0, 101.0, 99.0, 100.5)
    c2 = w.candle(BTC, 100.5, 102.0, 100.0, 101.5)
    w.strategy.at(BTC, c2.open_time_ms, Direction.LONG, 80)
    w.publish(c1)
    w.publish(c2)
    act = w.engine.scan_symbol(BTC)
    assert act is not None
    signal, candle = act
    assert candle is c2
    assert (signal.direction, signal.ts_ms) == (Direction.LONG, c2.close_time_ms)
    assert w.strategy.seen == [c1, c2]
    assert w.engine.candles_seen == 2
    assert w.engine._last_signal[BTC] is signal
    assert not w.positions.positions  # nothing acted on: that is ``on_signal``'s
    assert w.engine.scan_symbol(BTC) is None  # no new candle: nothing fed again
    assert w.strategy.seen == [c1, c2]
    assert w.engine.scan_symbol(ETH) is None  # no candle of it at all


async def test_scan_symbol_returns_nothing_for_flat_only_where_on_signal_ignores_it() -> None:
    spot = spot_world()
    candle = spot.candle(BTC, 100.0, 101.0, 99.0, 100.5)
    spot.publish(candle)
    assert spot.engine.scan_symbol(BTC) is None  # spot ignores FLAT
    assert spot.engine._last_signal[BTC].direction is Direction.FLAT  # still the last seen
    futures = futures_world()
    candle = futures.candle(ETH, 100.0, 101.0, 99.0, 100.5)
    futures.publish(candle)
    act = futures.engine.scan_symbol(ETH)  # futures gets FLAT: it drops a waiting reversal
    assert act is not None
    assert act[0].direction is Direction.FLAT


async def test_scan_symbol_feeds_but_returns_nothing_when_stopping_or_history() -> None:
    w = spot_world()
    c1 = w.candle(BTC, 100.0, 101.0, 99.0, 100.5)
    w.strategy.at(BTC, c1.open_time_ms, Direction.LONG, 80)
    w.engine._history_until_ms = c1.close_time_ms  # closed before this process started
    w.publish(c1)
    assert w.engine.scan_symbol(BTC) is None
    assert w.strategy.seen == [c1]  # warm-up: fed all the same
    assert BTC not in w.engine._last_signal
    c2 = w.candle(BTC, 100.0, 101.0, 99.0, 100.5)
    w.strategy.at(BTC, c2.open_time_ms, Direction.LONG, 80)
    w.publish(c2)
    w.engine.request_stop()
    assert w.engine.scan_symbol(BTC) is None
    assert w.strategy.seen == [c1, c2]
    assert BTC not in w.engine._last_signal


async def test_scan_once_acts_on_what_scan_symbol_returns() -> None:
    w = spot_world("10000", symbols=(BTC, ETH))
    c1 = w.candle(BTC, 100.0, 100.0, 100.0, 100.0)
    c2 = w.candle(ETH, 50.0, 50.0, 50.0, 50.0, open_ms=c1.open_time_ms)
    w.strategy.at(BTC, c1.open_time_ms, Direction.LONG, 80)
    w.strategy.at(ETH, c2.open_time_ms, Direction.LONG, 80)
    w.publish(c1)
    w.publish(c2)
    await w.engine.scan_once()
    assert sorted(w.positions.positions) == [BTC, ETH]

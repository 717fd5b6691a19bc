"""ReplayFeed: close-time order across series, exactly once, warm-up on prime()."""

from __future__ import annotations

import numpy as np

from kinetic.clock import ManualClock
from kinetic.domain import Candle
from kinetic.marketdata.files import CandleArrays
from kinetic.marketdata.replay import ReplayFeed
from tests.unit.execution.flaky_venue import AutoClock

MIN = 60_000
T0 = 1_700_000_040_000


def arrays(symbol: str, interval_ms: int, n: int, start: int = T0) -> CandleArrays:
    ts = np.arange(n, dtype=np.int64) * interval_ms + start
    px = np.arange(n, dtype=np.float64) + 100.0
    return CandleArrays(symbol, interval_ms, ts, px, px + 1, px - 1, px, np.ones(n))


def feed_with_two_series(clock: ManualClock) -> tuple[ReplayFeed, list[tuple[str, Candle]]]:
    feed = ReplayFeed(clock)
    feed.add_series("spot", arrays("BTCUSDT", MIN, 12))  # closes at T0 + k min - 1
    feed.add_series("futures", arrays("ETHUSDT", 5 * MIN, 3))  # closes at T0 + 5k min - 1
    got: list[tuple[str, Candle]] = []
    feed.subscribe(lambda market, c: got.append((market, c)))
    return feed, got


def keys(got: list[tuple[str, Candle]]) -> list[tuple[str, int]]:
    return [(c.symbol, c.open_time_ms) for _, c in got]


def test_publish_due_delivers_in_close_time_order_across_series_exactly_once() -> None:
    feed, got = feed_with_two_series(ManualClock(T0 / 1000))
    assert feed.publish_due(T0 + 60 * MIN) == 15
    closes = [c.close_time_ms for _, c in got]
    assert closes == sorted(closes)
    assert len(set(keys(got))) == 15
    assert {m for m, _ in got} == {"spot", "futures"}
    assert feed.publish_due(T0 + 60 * MIN) == 0
    assert feed.next_due_ms() is None


def test_publish_due_only_delivers_candles_closed_by_now() -> None:
    feed, got = feed_with_two_series(ManualClock(T0 / 1000))
    feed.publish_due(T0 + 5 * MIN - 2)  # BTC candles 0..3 closed; 4 and ETH 0 close 1 ms later
    assert keys(got) == [("BTCUSDT", T0 + k * MIN) for k in range(4)]
    feed.publish_due(T0 + 5 * MIN - 1)
    assert keys(got)[4:] == [("BTCUSDT", T0 + 4 * MIN), ("ETHUSDT", T0)]


def test_stepwise_publishing_equals_one_shot_publishing() -> None:
    one_shot, all_at_once = feed_with_two_series(ManualClock(T0 / 1000))
    one_shot.publish_due(T0 + 60 * MIN)
    stepped, got = feed_with_two_series(ManualClock(T0 / 1000))
    for now in range(T0, T0 + 20 * MIN, 37_000):
        stepped.publish_due(now)
    assert keys(got) == keys(all_at_once)
    assert stepped.delivered == 15


def test_prime_delivers_warmup_candles_of_each_series_and_returns_replay_start() -> None:
    feed, got = feed_with_two_series(ManualClock(T0 / 1000))
    start = feed.prime(2)
    assert keys(got) == [
        ("BTCUSDT", T0),
        ("BTCUSDT", T0 + MIN),
        ("ETHUSDT", T0),
        ("ETHUSDT", T0 + 5 * MIN),
    ]
    assert start == T0 + 3 * MIN - 1  # next BTC candle's close
    feed.publish_due(T0 + 60 * MIN)
    assert len(got) == 15
    assert len(set(keys(got))) == 15  # warm-up candles are not delivered again


def test_prime_with_warmup_longer_than_series_delivers_all_and_returns_none() -> None:
    feed, got = feed_with_two_series(ManualClock(T0 / 1000))
    assert feed.prime(100) is None
    assert len(got) == 15


async def test_run_publishes_everything_on_the_clock_then_sets_finished() -> None:
    clock = AutoClock(T0 / 1000)
    feed, got = feed_with_two_series(clock)
    feed.prime(1)
    await feed.run()
    assert feed.finished.is_set()
    assert len(got) == 15
    assert len(set(keys(got))) == 15
    closes = [c.close_time_ms for _, c in got[2:]]
    assert closes == sorted(closes)
    assert clock.time_ms() >= T0 + 12 * MIN - 1

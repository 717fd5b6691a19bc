"""Staleness in replay is judged on the replay feed's time, not on a clock running ahead.

The ``ScaledClock`` is driven by wall time: at 1,000,000x one millisecond of event-loop
lag is 1,000 market seconds, so the clock runs ahead of the feed and every symbol looked
stale. A store wired to the feed (``market_time_ms``) only calls a gap in the recording
stale. The clock here is a ``ManualClock`` moved by hand to model that lag.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinetic.clock import ManualClock
from kinetic.marketdata.files import CandleArrays
from kinetic.marketdata.replay import ReplayFeed
from kinetic.marketdata.store import CandleStore
from kinetic.venues.base.errors import StaleDataError

MIN = 60_000
T0 = 1_700_000_040_000
TOLERANCE_S = 120.0


def _series(open_times: list[int]) -> CandleArrays:
    ts = np.asarray(open_times, dtype=np.int64)
    px = np.arange(len(ts), dtype=np.float64) + 100.0
    return CandleArrays("BTCUSDT", MIN, ts, px, px + 1, px - 1, px, np.ones(len(ts)))


def _wired(open_times: list[int]) -> tuple[ReplayFeed, CandleStore, CandleStore]:
    """A feed delivering into a replay store (on the feed's time) and a plain one."""
    feed = ReplayFeed(ManualClock(T0 / 1000))
    feed.add_series("spot", _series(open_times))
    replay_store = CandleStore(market_time_ms=feed.market_time_ms)
    plain = CandleStore()
    feed.subscribe(lambda _market, c: (replay_store.add(c), plain.add(c)))
    return feed, replay_store, plain


def test_clock_ahead_of_the_feed_is_not_stale_data_in_replay() -> None:
    feed, store, plain = _wired([T0 + k * MIN for k in range(10)])
    published = T0 + 5 * MIN
    feed.publish_due(published)
    clock_now = published + 1_000_000  # the ScaledClock ran 1,000 market seconds ahead
    assert store.require_fresh("BTCUSDT", clock_now, TOLERANCE_S).open_time_ms == T0 + 4 * MIN
    with pytest.raises(StaleDataError):  # judged on the clock, the same data was "stale"
        plain.require_fresh("BTCUSDT", clock_now, TOLERANCE_S)


def test_gap_in_the_recording_is_still_stale_in_replay() -> None:
    # candles 0..4, then nothing until minute 30
    feed, store, _ = _wired([T0 + k * MIN for k in (0, 1, 2, 3, 4, 30)])
    feed.publish_due(T0 + 5 * MIN + 10 * MIN)  # feed time: 10 min after candle 4 closed
    with pytest.raises(StaleDataError, match="overdue"):
        store.require_fresh("BTCUSDT", T0 + 30 * MIN, TOLERANCE_S)


def test_before_the_feed_has_published_the_clock_is_used() -> None:
    feed, store, _ = _wired([T0])
    assert feed.market_time_ms() is None
    store.add(_series([T0]).candle(0))
    with pytest.raises(StaleDataError):
        store.require_fresh("BTCUSDT", T0 + 60 * MIN, TOLERANCE_S)

"""CandleStore: ordering, cursors and the freshness check."""

from __future__ import annotations

import pytest

from kinetic.domain import Candle
from kinetic.marketdata.store import CandleStore
from kinetic.venues.base.errors import StaleDataError

MIN = 60_000
SYM = "BTCUSDT"


def candle(i: int, close: float = 100.0, symbol: str = SYM) -> Candle:
    t = i * MIN
    return Candle(symbol, t, t + MIN - 1, close, close, close, close, 1.0)


def test_add_ignores_duplicates_and_out_of_order_candles() -> None:
    store = CandleStore()
    assert store.add(candle(1))
    assert store.add(candle(2))
    assert not store.add(candle(2, close=999.0))  # duplicate open time
    assert not store.add(candle(1))  # older
    assert store.add(candle(3))
    assert [c.open_time_ms for c in store.window(SYM)] == [MIN, 2 * MIN, 3 * MIN]
    assert store.last(SYM).close == 100.0  # type: ignore[union-attr]


def test_symbols_are_kept_apart() -> None:
    store = CandleStore()
    store.add(candle(5, symbol="ETHUSDT"))
    assert store.add(candle(1))  # older than ETH's last, but another series
    assert sorted(store.symbols()) == ["BTCUSDT", "ETHUSDT"]


def test_since_with_cursor_returns_each_candle_exactly_once() -> None:
    store = CandleStore()
    cursor = -1
    seen: list[int] = []
    for batch in ([1, 2], [], [3], [4, 5, 6]):
        for i in batch:
            store.add(candle(i))
        new = store.since(SYM, cursor)
        if new:
            cursor = new[-1].open_time_ms
        seen.extend(c.open_time_ms // MIN for c in new)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert store.since(SYM, cursor) == []
    assert store.since("UNKNOWN", -1) == []


def test_window_is_bounded_by_maxlen() -> None:
    store = CandleStore(maxlen=3)
    for i in range(10):
        store.add(candle(i))
    assert [c.open_time_ms // MIN for c in store.window(SYM)] == [7, 8, 9]
    assert [c.open_time_ms // MIN for c in store.since(SYM, -1)] == [7, 8, 9]


def test_require_fresh_passes_until_next_candle_is_overdue_beyond_tolerance() -> None:
    store = CandleStore()
    store.add(candle(10))
    last_close = 11 * MIN - 1
    next_due = last_close + MIN
    assert store.require_fresh(SYM, next_due + 120_000, 120).open_time_ms == 10 * MIN
    with pytest.raises(StaleDataError, match="overdue"):
        store.require_fresh(SYM, next_due + 121_000, 120)


def test_require_fresh_raises_without_candles() -> None:
    with pytest.raises(StaleDataError, match="no candles"):
        CandleStore().require_fresh(SYM, 0, 120)

"""The sandbox's candle tape: re-stamped history, the market clock, any interval."""

from __future__ import annotations

import numpy as np

from kinetic.marketdata.files import CandleArrays
from kinetic.venues.fakes.tape import Tape

M5 = 300_000
START = 1_800_000_000_000  # a 5-minute boundary


def _arrays(n: int) -> CandleArrays:
    close = np.arange(100.0, 100.0 + n)
    return CandleArrays(
        "BTCUSDT",
        M5,
        np.arange(n, dtype=np.int64) * M5,
        close - 0.5,
        close + 1,
        close - 1,
        close,
        np.ones(n),
    )


def test_history_ends_at_the_wall_clock_and_new_candles_close_at_speed() -> None:
    tape = Tape({"BTCUSDT": _arrays(20)}, speed=60, history=10, wall_start_ms=START + 1000)
    closed = tape.bars("BTCUSDT", M5, with_forming=False, market_ms=START + 1000)
    assert [b[0] for b in closed] == [START - (10 - i) * M5 for i in range(10)]
    assert closed[-1][4] == 109.0  # the 10th file candle closed just before "now"
    # 5 wall seconds at speed 60 = one 5-minute candle more
    assert tape.closed_count("BTCUSDT", tape.market_now_ms(START + 6000)) == 11
    assert tape.last_close("BTCUSDT", tape.market_now_ms(START + 6000)) == 110.0


def test_longer_intervals_aggregate_and_shorter_ones_interpolate() -> None:
    tape = Tape({"BTCUSDT": _arrays(20)}, history=12, wall_start_ms=START)
    [bar] = tape.bars("BTCUSDT", 3 * M5, start_ms=START - 6 * M5, limit=1, market_ms=START)
    assert bar == (START - 6 * M5, 105.5, 109.0, 105.0, 108.0, 3.0)
    subs = tape.bars("BTCUSDT", 60_000, start_ms=START - M5, limit=5, market_ms=START)
    assert len(subs) == 5
    assert subs[0][1] == 110.5  # the open of the base candle
    assert subs[-1][4] == 111.0  # ... and its close at the last sub-bar
    assert sum(b[5] for b in subs) == 1.0


def test_the_tape_stops_when_the_file_is_used_up() -> None:
    tape = Tape({"BTCUSDT": _arrays(5)}, history=3, wall_start_ms=START)
    later = START + 100 * M5
    assert tape.closed_count("BTCUSDT", later) == 5
    assert tape.last_close("BTCUSDT", later) == 104.0
    assert tape.bars("BTCUSDT", M5, market_ms=later)[-1][0] == START + M5

"""Read candle files: CSV or CSV.GZ with header ``timestamp,open,high,low,close,volume``.

``timestamp`` is the candle's open time in UTC milliseconds. Malformed rows are logged
and skipped; rows out of order or duplicated are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kinetic.domain import Candle
from kinetic.logging import get_logger

INTERVAL_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "1d": 86_400_000,
}
COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]
log = get_logger(component="candle_files")


@dataclass(frozen=True, slots=True)
class CandleArrays:
    """Column arrays of one symbol's candles (float64, open time in int64 ms)."""

    symbol: str
    interval_ms: int
    open_time_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.open_time_ms.shape[0])

    def candle(self, i: int) -> Candle:
        t = int(self.open_time_ms[i])
        return Candle(
            self.symbol,
            t,
            t + self.interval_ms - 1,
            float(self.open[i]),
            float(self.high[i]),
            float(self.low[i]),
            float(self.close[i]),
            float(self.volume[i]),
        )


def infer_interval_ms(ts: np.ndarray) -> int:
    """Return the most common step between timestamps (gaps are allowed)."""
    if ts.shape[0] < 2:
        return INTERVAL_MS["5m"]
    diffs = np.diff(ts)
    values, counts = np.unique(diffs[diffs > 0], return_counts=True)
    return int(values[np.argmax(counts)])


def read_candles(path: str | Path, symbol: str, interval_ms: int | None = None) -> CandleArrays:
    """Load a candle file; invalid or inconsistent rows are logged and skipped."""
    df = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    df = df[COLUMNS].apply(pd.to_numeric, errors="coerce")
    bad = (
        df.isna().any(axis=1)
        | (df["high"] < df[["open", "close", "low"]].max(axis=1))
        | (df["low"] > df[["open", "close"]].min(axis=1))
    )
    if bad.any():
        log.warning("malformed candle rows skipped", path=str(path), rows=int(bad.sum()))
        df = df[~bad]
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    # keep a row only when it is later than every row kept before it (not just its
    # neighbour: 0, 300000, 120000, 180000 must not leave 180000 after 300000)
    keep = np.ones(ts.shape[0], dtype=bool)
    if ts.shape[0] > 1:
        keep[1:] = ts[1:] > np.maximum.accumulate(ts)[:-1]
    if not keep.all():
        log.warning(
            "out-of-order or duplicate candles dropped", path=str(path), rows=int((~keep).sum())
        )
        df = df[keep]
        ts = ts[keep]
    step = interval_ms or infer_interval_ms(ts)
    return CandleArrays(
        symbol,
        step,
        ts,
        *(df[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")),
    )

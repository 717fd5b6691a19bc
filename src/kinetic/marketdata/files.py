"""Read candle files (Parquet, CSV, CSV.GZ): ``timestamp,open,high,low,close,volume``.

``timestamp`` is the candle's open time in UTC milliseconds. Malformed rows are logged
and skipped; rows out of order or duplicated are dropped. Parquet (what ``data download``
and ``data import`` write; ``timestamp`` int64, the prices and volume float64) loads
about 20x faster than CSV: see docs/data.md for the measurement.
"""

from __future__ import annotations

import csv
import gzip
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

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


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    return path.open("r", newline="")


def _columns(path: Path, header: str) -> list[int]:
    if not header.strip():
        raise ValueError(f"{path}: the file has no candles (it is empty, not even a header)")
    names = [n.strip().strip('"').lstrip("\ufeff") for n in header.rstrip("\r\n").split(",")]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    return [names.index(c) for c in COLUMNS]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _parse_rows(fh: IO[str], columns: list[int]) -> np.ndarray:
    """The tolerant path: every row, with a field that is not a number as NaN."""
    width = max(columns) + 1
    rows = [
        [_number(row[c]) for c in columns] if len(row) >= width else [math.nan] * len(columns)
        for row in csv.reader(fh)
        if row
    ]
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(columns))


def _load_table(path: Path) -> np.ndarray:
    """The six columns as float64, one row per line; malformed fields are NaN.

    numpy's C reader takes the common, clean file; a file it refuses (a field that is
    not a number, a short row) is read again row by row, keeping every good row.
    """
    with _open_text(path) as fh:
        columns = _columns(path, fh.readline())
        start = fh.tell()
        try:
            with warnings.catch_warnings():  # a header-only file is an empty table
                warnings.simplefilter("ignore", UserWarning)
                table = np.loadtxt(fh, delimiter=",", usecols=columns, dtype=np.float64, ndmin=2)
        except ValueError:
            fh.seek(start)
            table = _parse_rows(fh, columns)
    return table


PARQUET = ".parquet"


def is_parquet(path: Path) -> bool:
    """Whether ``path`` names a Parquet candle file (by its suffix)."""
    return path.name.endswith(PARQUET)


def _load_parquet(path: Path) -> list[np.ndarray]:
    """The six columns of a Parquet candle file; nulls read as NaN."""
    import pyarrow.parquet as pq  # imported here: CSV-only runs do not pay for it

    names = pq.read_schema(path).names
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    table = pq.read_table(path, columns=COLUMNS)
    out = []
    for name in COLUMNS:
        col = table.column(name)
        # a null becomes NaN (the row is then skipped like an unreadable CSV row)
        wanted = np.int64 if name == "timestamp" and col.null_count == 0 else np.float64
        out.append(col.to_numpy().astype(wanted, copy=False))
    return out


def load_columns(path: str | Path) -> list[np.ndarray]:
    """The six columns of a candle file of any supported format, unvalidated."""
    path = Path(path)
    if is_parquet(path):
        return _load_parquet(path)
    table = _load_table(path)
    return [table[:, k] for k in range(len(COLUMNS))]


def read_candles(path: str | Path, symbol: str, interval_ms: int | None = None) -> CandleArrays:
    """Load a candle file; invalid or inconsistent rows are logged and skipped."""
    path = Path(path)
    return from_columns(symbol, load_columns(path), interval_ms, source=str(path))


def from_columns(
    symbol: str, columns: list[np.ndarray], interval_ms: int | None = None, source: str = ""
) -> CandleArrays:
    """Validate six columns into ``CandleArrays``: bad rows skipped, time kept increasing."""
    ts_raw, o, h, lo, c, v = columns
    bad = (
        np.isnan(o)
        | np.isnan(h)
        | np.isnan(lo)
        | np.isnan(c)
        | np.isnan(v)
        | (h < np.maximum(np.maximum(o, c), lo))
        | (lo > np.minimum(o, c))
    )
    if ts_raw.dtype.kind == "f":
        bad |= np.isnan(ts_raw)
    if bad.any():
        log.warning("malformed candle rows skipped", path=source, rows=int(bad.sum()))
        ts_raw, o, h, lo, c, v = (col[~bad] for col in (ts_raw, o, h, lo, c, v))
    ts = ts_raw.astype(np.int64)
    # keep a row only when it is later than every row kept before it (not just its
    # neighbour: 0, 300000, 120000, 180000 must not leave 180000 after 300000)
    keep = np.ones(ts.shape[0], dtype=bool)
    if ts.shape[0] > 1:
        keep[1:] = ts[1:] > np.maximum.accumulate(ts)[:-1]
    if not keep.all():
        log.warning(
            "out-of-order or duplicate candles dropped", path=source, rows=int((~keep).sum())
        )
        ts, o, h, lo, c, v = (col[keep] for col in (ts, o, h, lo, c, v))
    step = interval_ms or infer_interval_ms(ts)
    return CandleArrays(symbol, step, ts, *(np.ascontiguousarray(x) for x in (o, h, lo, c, v)))

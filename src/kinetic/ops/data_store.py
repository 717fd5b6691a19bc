"""Where downloaded and imported market data lives, and how it is written.

Candles (trade and mark price) are Parquet files, ``timestamp`` int64 (open time, UTC
ms) and ``open,high,low,close,volume`` float64, zstd-compressed, one row per open time,
oldest first: the format chosen by measurement (docs/data.md). A Parquet file is written
whole, so a download first appends each page to a CSV staging file beside it
(``<name>.parquet.part``, one line per candle, a torn last line cut off on resume) and
merges the staged rows into the Parquet file when the symbol is done: written to a
temporary file, then renamed over the old one, so a kill at any point leaves either
the old file or the new one, and the staged rows to resume from.

Funding rates are small (three a day) and are what ``backtest --funding`` reads: a CSV
``timestamp,funding_rate`` appended page by page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from kinetic.domain import Candle
from kinetic.marketdata.files import COLUMNS, load_columns
from kinetic.marketdata.recording import _resume

STAGING_SUFFIX = ".part"
FUNDING_HEADER = "timestamp,funding_rate\n"
CANDLE_HEADER = ",".join(COLUMNS) + "\n"


def candle_path(root: Path, venue: str, symbol: str, interval: str, mark: bool = False) -> Path:
    """``<root>/<venue>/[mark/]<SYMBOL>_<interval>.parquet``."""
    folder = root / venue / "mark" if mark else root / venue
    return folder / f"{symbol.upper()}_{interval}.parquet"


def funding_path(root: Path, venue: str, symbol: str) -> Path:
    """``<root>/<venue>/funding/<SYMBOL>.csv`` (``timestamp,funding_rate``)."""
    return root / venue / "funding" / f"{symbol.upper()}.csv"


def staging_path(path: Path) -> Path:
    return path.with_name(path.name + STAGING_SUFFIX)


def missing_spans(path: Path, start_ms: int, end_ms: int, step: int) -> list[tuple[int, int]]:
    """The ``[from, to)`` spans of ``[start_ms, end_ms)`` the Parquet file has no candle in.

    Before its first row, between rows more than ``step`` apart, after its last row;
    ascending. A file that does not exist yet misses the whole range.
    """
    if not path.exists():
        return [(start_ms, end_ms)] if start_ms < end_ms else []
    import pyarrow.parquet as pq

    ts = pq.read_table(path, columns=["timestamp"]).column("timestamp").to_numpy()
    ts = np.unique(ts[(ts >= start_ms) & (ts < end_ms)])
    edges = np.concatenate([[start_ms - step], ts, [end_ms]])
    after = edges[:-1] + step  # the first open time a row (or the range's start) leaves open
    holes = np.flatnonzero(edges[1:] > after)
    return [(int(after[i]), int(edges[i + 1])) for i in holes]


class StagedWriter:
    """Append candles to the staging CSV of ``path``, one flushed write per page."""

    def __init__(self, path: Path) -> None:
        self.path = staging_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            _resume(self.path)  # cut a torn last line
        self._fh = self.path.open("a", encoding="ascii")
        if self._fh.tell() == 0:
            self._fh.write(CANDLE_HEADER)

    def write(self, candles: Iterable[Candle]) -> None:
        self._fh.write(
            "".join(
                f"{c.open_time_ms},{c.open!r},{c.high!r},{c.low!r},{c.close!r},{c.volume!r}\n"
                for c in candles
            )
        )
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def merge_staged(path: Path) -> None:
    """Merge the staging file of ``path`` into it (atomically) and delete the staging file."""
    staged = staging_path(path)
    if not staged.exists():
        return
    _resume(staged)  # a torn last line is not data
    columns = load_columns(staged)
    if len(columns[0]):
        merge(path, columns)
    staged.unlink()


def merge(path: Path, new: list[np.ndarray]) -> int:
    """Merge candle columns into the Parquet file ``path``; return the rows it then has.

    Rows are sorted by time; for an open time present in both, the new row wins. Rows
    that are not numbers are dropped (``data check`` reports them in a source file).
    """
    columns = [np.asarray(c) for c in new]
    if path.exists():
        old = load_columns(path)
        columns = [np.concatenate([o, n]) for o, n in zip(old, columns, strict=True)]
    ts = columns[0].astype(np.float64)
    ok = ~np.isnan(ts)
    columns = [c[ok] for c in columns]
    ts_int = columns[0].astype(np.int64)
    # the last occurrence of each time wins: unique over the reversed order
    _, first_in_reversed = np.unique(ts_int[::-1], return_index=True)
    keep = np.sort(len(ts_int) - 1 - first_in_reversed)
    order = keep[np.argsort(ts_int[keep], kind="stable")]
    write_parquet(path, [ts_int[order], *(c[order].astype(np.float64) for c in columns[1:])])
    return len(order)


def write_parquet(path: Path, columns: list[np.ndarray]) -> None:
    """Write six candle columns to ``path`` through a temporary file and a rename."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(dict(zip(COLUMNS, columns, strict=True)))
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)

"""Market data tools: download and import candles, mark prices and funding rates.

* ``download`` pages through a venue with our own client (its rate limiter, retries and
  ``Retry-After``). Candles and mark-price candles go to Parquet files
  (``ops.data_store``: staged page by page in a CSV beside the file, merged when the
  symbol is done); funding rates to ``<dir>/<venue>/funding/<SYMBOL>.csv``
  (``timestamp,funding_rate``, what ``backtest --funding`` reads), appended per page.
  Rerun, it resumes after the last row it has (a row torn by a kill is cut off first).
* ``import`` turns a Binance public-archive kline file (CSV or the ZIP it comes in;
  open times in ms, or in µs as the archives have them since 2025), a freqtrade JSON
  candle file (``[[ms, o, h, l, c, v], ...]``) or a Kinetic CSV/CSV.GZ into the same
  Parquet format.

``data check`` and ``data list`` are in ``ops.data_check``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kinetic.marketdata.files import INTERVAL_MS
from kinetic.marketdata.recording import _resume
from kinetic.ops import data_store as store

PAGE = 1000  # rows per request (Binance's klines and fundingRate maximum)
VENUES = {  # CLI name -> (venue, market) of the client that serves it
    "binance": ("binance", "spot"),
    "binance-futures": ("binance", "futures"),
    "kraken": ("kraken", "spot"),
    "kraken-futures": ("kraken", "futures"),
}
KINDS = ("candles", "mark", "funding")  # what ``download --kinds`` takes
FUTURES_KINDS = ("mark", "funding")


def file_for(root: Path, venue: str, symbol: str, interval: str, kind: str = "candles") -> Path:
    """The file ``download``/``import`` writes for one symbol and kind."""
    if kind == "funding":
        return store.funding_path(root, venue, symbol)
    return store.candle_path(root, venue, symbol, interval, mark=kind == "mark")


@dataclass
class Progress:
    """Rows written per symbol, reported to ``report`` after every page."""

    total_ms: int
    report: Callable[[str, float, int], None] = lambda _s, _f, _n: None
    written: dict[str, int] = field(default_factory=dict)


async def download(
    client: Any,
    venue: str,
    symbols: Iterable[str],
    interval: str,
    start_ms: int,
    end_ms: int,
    root: Path,
    progress: Progress | None = None,
    kind: str = "candles",
) -> dict[str, int]:
    """Download ``kind`` in ``[start_ms, end_ms)`` per symbol; return rows written."""
    out: dict[str, int] = {}
    for symbol in symbols:
        path = file_for(root, venue, symbol, interval, kind)
        if kind == "funding":
            out[symbol] = await _funding(client, symbol, start_ms, end_ms, path, progress)
        else:
            fetch = client.get_mark_klines if kind == "mark" else client.get_klines
            span = (start_ms, end_ms)
            out[symbol] = await _candles(fetch, symbol, interval, span, path, progress)
    return out


async def _candles(
    fetch: Any,
    symbol: str,
    interval: str,
    span: tuple[int, int],
    path: Path,
    progress: Progress | None,
) -> int:
    step = INTERVAL_MS[interval]
    span = (-(-span[0] // step) * step, span[1])  # from the first open time on the grid
    store.merge_staged(path)  # rows an interrupted run staged are complete: keep them
    holes = store.missing_spans(path, *span, step)  # before, between and after its rows
    todo = sum(b - a for a, b in holes)
    done = written = 0
    writer = store.StagedWriter(path)  # holes ascend, so the staged rows do too
    try:
        for hole_start, hole_end in holes:
            cursor = hole_start
            while cursor < hole_end:
                page = await fetch(symbol, interval, PAGE, cursor)
                page = [c for c in page if cursor <= c.open_time_ms < hole_end]
                if not page:
                    break  # the venue has no more here (a gap in its history, or the present)
                writer.write(page)
                written += len(page)
                done += page[-1].open_time_ms + step - cursor
                cursor = page[-1].open_time_ms + step
                _report(progress, symbol, done, 0, todo, written)
    finally:
        writer.close()
    store.merge_staged(path)  # reached only when every hole was tried (an error propagates)
    return written


async def _funding(
    client: Any, symbol: str, start_ms: int, end_ms: int, path: Path, progress: Progress | None
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    last = _resume(path)
    cursor = max(start_ms, last + 1) if last >= 0 else start_ms
    # Kraken answers a symbol's whole history at once: one call, not one per 1000 rows
    limit = getattr(client, "funding_rates_page", PAGE)
    written = 0
    with path.open("a", encoding="ascii") as fh:
        if fh.tell() == 0:
            fh.write(store.FUNDING_HEADER)
        while cursor < end_ms:
            page = await client.get_funding_rates(symbol, cursor, end_ms - 1, limit)
            page = [r for r in page if cursor <= r.ts_ms < end_ms]
            if not page:
                break
            fh.write("".join(f"{r.ts_ms},{r.rate!r}\n" for r in page))
            fh.flush()
            written += len(page)
            cursor = page[-1].ts_ms + 1
            _report(progress, symbol, cursor, start_ms, end_ms, written)
    return written


def _report(
    progress: Progress | None, symbol: str, cursor: int, start: int, end: int, rows: int
) -> None:
    if progress is not None:
        progress.written[symbol] = rows
        progress.report(symbol, (min(cursor, end) - start) / max(1, end - start), rows)


# ------------------------------------------------------------------ import
def import_file(path: Path, symbol: str, interval: str, root: Path, venue: str) -> int:
    """Import a Binance archive CSV/ZIP or a freqtrade JSON file; return rows imported."""
    rows = sorted(_rows(path))
    if not rows:
        raise ValueError(f"{path}: no candle rows")
    table = np.asarray(rows, dtype=np.float64)
    columns = [table[:, 0].astype(np.int64), *(table[:, k] for k in range(1, 6))]
    store.merge(file_for(root, venue, symbol, interval), columns)
    return len(rows)


def _rows(path: Path) -> Iterable[tuple[int, float, float, float, float, float]]:
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        if not isinstance(data, list):
            raise ValueError(f"{path}: a freqtrade candle file is a JSON list of rows")
        for row in data:
            yield _row(row)
        return
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if not names:
                raise ValueError(f"{path}: no CSV inside the ZIP")
            text = archive.read(names[0]).decode()
    elif path.suffix == ".gz":  # a gzipped CSV (Kinetic's own .csv.gz, for one)
        text = gzip.decompress(path.read_bytes()).decode()
    else:
        text = path.read_text()
    for rec in csv.reader(io.StringIO(text)):
        if rec and rec[0].strip().lstrip("-").isdigit():  # skip a header line
            yield _row(rec[:6])


def _row(raw: Any) -> tuple[int, float, float, float, float, float]:
    if not isinstance(raw, list | tuple) or len(raw) < 6:
        raise ValueError(f"a candle row needs time, open, high, low, close, volume: {raw!r}")
    ts = int(float(raw[0]))
    if ts > 10**14:  # microseconds (Binance archives since 2025)
        ts //= 1000
    o, h, lo, c, v = (float(x) for x in raw[1:6])
    return ts, o, h, lo, c, v

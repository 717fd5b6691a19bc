"""Market data tools: download, import, check and list candle files.

Every file is the daemon's own candle format (``marketdata.files``): CSV with the header
``timestamp,open,high,low,close,volume``, open time in UTC milliseconds, one row per
candle, oldest first. Replay, backtest and optimize read it as it is.

* ``download`` pages through a venue's klines with our own client (its rate limiter,
  retries and ``Retry-After``), appending each page to
  ``<dir>/<venue>/<SYMBOL>_<interval>.csv`` through ``CandleRecorder`` (one row per open
  time, a torn last row cut off). Rerun, it resumes after the last row it has.
* ``import`` turns a Binance public-archive kline file (CSV or the ZIP it comes in;
  open times in ms, or in µs as the archives have them since 2025) or a freqtrade JSON
  candle file (``[[ms, o, h, l, c, v], ...]``) into the same format.
* ``check`` reports gaps, duplicates, time going backwards and impossible OHLC rows.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinetic.domain import Candle
from kinetic.marketdata.files import INTERVAL_MS
from kinetic.marketdata.recording import CandleRecorder, _resume

PAGE = 1000  # klines per request (Binance's maximum; Kraken answers with what it has)
VENUES = {  # CLI name -> (venue, market) of the client that serves it
    "binance": ("binance", "spot"),
    "binance-futures": ("binance", "futures"),
    "kraken": ("kraken", "spot"),
    "kraken-futures": ("kraken", "futures"),
}


def file_for(root: Path, venue: str, symbol: str, interval: str) -> Path:
    return root / venue / f"{symbol.upper()}_{interval}.csv"


@dataclass
class Progress:
    """Candles written per symbol, reported to ``report`` after every page."""

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
) -> dict[str, int]:
    """Download closed candles ``[start_ms, end_ms)`` per symbol; return rows written."""
    step = INTERVAL_MS[interval]
    recorder = CandleRecorder(root, interval)
    out: dict[str, int] = {}
    for symbol in symbols:
        path = recorder.path(venue, symbol)
        last = _resume(path)
        cursor = max(start_ms, last + step if last >= 0 else start_ms)
        before = recorder.written
        while cursor < end_ms:
            page = await client.get_klines(symbol, interval, PAGE, cursor)
            page = [c for c in page if cursor <= c.open_time_ms < end_ms]
            if not page:
                break  # nothing more: the venue's history (or the present) ends here
            for candle in page:
                recorder(venue, candle)
            cursor = page[-1].open_time_ms + step
            if progress is not None:
                done = (min(cursor, end_ms) - start_ms) / max(1, end_ms - start_ms)
                progress.report(symbol, done, recorder.written - before)
        out[symbol] = recorder.written - before
    return out


# ------------------------------------------------------------------ import
def import_file(path: Path, symbol: str, interval: str, root: Path, venue: str) -> int:
    """Import a Binance archive CSV/ZIP or a freqtrade JSON file; return rows written."""
    rows = list(_rows(path))
    recorder = CandleRecorder(root, interval)
    step = INTERVAL_MS[interval]
    before = recorder.written
    for ts, o, h, lo, c, v in sorted(rows):
        recorder(venue, Candle(symbol.upper(), ts, ts + step - 1, o, h, lo, c, v))
    return recorder.written - before


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


# ------------------------------------------------------------------ check / list
@dataclass
class Report:
    path: str
    rows: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    interval_ms: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (after ms, missing candles)
    duplicates: int = 0
    backwards: int = 0
    bad_ohlc: int = 0
    unreadable: int = 0

    @property
    def ok(self) -> bool:
        problems = (self.gaps, self.duplicates, self.backwards, self.bad_ohlc, self.unreadable)
        return not any(problems)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["gaps"] = [{"after_ms": a, "missing": n} for a, n in self.gaps[:50]]
        out["gap_count"] = len(self.gaps)
        out["ok"] = self.ok
        return out


def check_file(path: Path, interval_ms: int | None = None) -> Report:
    """Read ``path`` row by row (not through the tolerant loader) and report problems."""
    report = Report(str(path))
    times: list[int] = []
    opener = _open(path)
    with opener as fh:
        reader = csv.reader(fh)
        next(reader, None)  # header
        for rec in reader:
            if not rec:
                continue
            try:
                ts = int(float(rec[0]))
                o, h, lo, c, v = (float(x) for x in rec[1:6])
            except (ValueError, IndexError):
                report.unreadable += 1
                continue
            if any(math.isnan(x) for x in (o, h, lo, c, v)) or not (
                lo <= min(o, c) and h >= max(o, c) and v >= 0
            ):
                report.bad_ohlc += 1
            times.append(ts)
    report.rows = len(times)
    if not times:
        return report
    report.first_ms, report.last_ms = times[0], times[-1]
    seen: set[int] = set()
    latest = times[0]
    for ts in times:
        if ts in seen:
            report.duplicates += 1
        elif ts < latest:
            report.backwards += 1  # earlier than a row above it
        seen.add(ts)
        latest = max(latest, ts)
    unique = sorted(seen)
    diffs = [b - a for a, b in itertools.pairwise(unique)]
    step = interval_ms or (sorted(diffs)[len(diffs) // 2] if diffs else None)
    report.interval_ms = step
    if step:
        report.gaps = [(a, d // step - 1) for a, d in zip(unique, diffs, strict=False) if d > step]
    return report


def _open(path: Path) -> Any:
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding="ascii", newline="")
    return path.open(encoding="ascii", newline="")


def list_files(root: Path) -> list[dict[str, Any]]:
    """Every candle file under ``root``: venue folder, symbol, interval, span, rows."""
    out = []
    for path in sorted([*root.rglob("*.csv"), *root.rglob("*.csv.gz")]):
        rep = check_file(path)
        out.append(
            {
                "path": str(path),
                "rows": rep.rows,
                "first_ms": rep.first_ms,
                "last_ms": rep.last_ms,
                "interval_ms": rep.interval_ms,
                "ok": rep.ok,
            }
        )
    return out

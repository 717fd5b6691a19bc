"""``data check`` and ``data list``: gaps, duplicates, time order and OHLC sanity.

A file is read as it is, not through the tolerant loader (which skips what it cannot
use): CSV and CSV.GZ row by row, Parquet column by column.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinetic.marketdata.files import is_parquet, load_columns

CANDLE_SUFFIXES = (".parquet", ".csv.gz", ".csv")


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


def _bad(o: float, h: float, lo: float, c: float, v: float) -> bool:
    if any(math.isnan(x) for x in (o, h, lo, c, v)):
        return True
    return not (lo <= min(o, c) and h >= max(o, c) and v >= 0)


def _csv_rows(path: Path, report: Report) -> list[int]:
    times: list[int] = []
    with _open(path) as fh:
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
            report.bad_ohlc += _bad(o, h, lo, c, v)
            times.append(ts)
    return times


def _parquet_rows(path: Path, report: Report) -> list[int]:
    ts, *prices = (col.tolist() for col in load_columns(path))
    times: list[int] = []
    for t, o, h, lo, c, v in zip(ts, *prices, strict=True):
        if isinstance(t, float) and math.isnan(t):
            report.unreadable += 1
            continue
        report.bad_ohlc += _bad(o, h, lo, c, v)
        times.append(int(t))
    return times


def is_funding_file(path: Path) -> bool:
    """A ``timestamp,funding_rate`` CSV (``data download --kinds funding``), by its header."""
    if is_parquet(path):
        return False
    with _open(path) as fh:
        header = str(fh.readline())
    return header.strip().replace(" ", "") == "timestamp,funding_rate"


def check_file(path: Path, interval_ms: int | None = None) -> Report:
    """Read every row of ``path`` and report problems."""
    if is_funding_file(path):
        return _funding_report(path)
    report = Report(str(path))
    times = _parquet_rows(path, report) if is_parquet(path) else _csv_rows(path, report)
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
        return gzip.open(path, "rt", encoding="ascii", newline="")
    return path.open(encoding="ascii", newline="")


def list_files(root: Path) -> list[dict[str, Any]]:
    """Every candle file under ``root``: path, rows, span, interval, clean or not."""
    out = []
    paths = {p for suffix in CANDLE_SUFFIXES for p in root.rglob(f"*{suffix}")}
    for path in sorted(paths):
        rep = check_file(path)
        out.append(
            {
                "path": str(path),
                "kind": "funding" if is_funding_file(path) else "candles",
                "rows": rep.rows,
                "first_ms": rep.first_ms,
                "last_ms": rep.last_ms,
                "interval_ms": rep.interval_ms,
                "ok": rep.ok,
            }
        )
    return out


def _funding_report(path: Path) -> Report:
    """Rows, span, unreadable rows and times not increasing (funding has no fixed step)."""
    report = Report(str(path))
    times = []
    with _open(path) as fh:
        for rec in itertools.islice(csv.reader(fh), 1, None):
            try:
                times.append(int(rec[0]))
                float(rec[1])
            except (ValueError, IndexError):
                report.unreadable += 1
    report.rows = len(times)
    if times:
        report.first_ms, report.last_ms = times[0], times[-1]
        report.backwards = sum(b < a for a, b in itertools.pairwise(times))
        report.duplicates = len(times) - len(set(times))
    return report

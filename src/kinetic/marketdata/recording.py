"""CandleRecorder: keep the closed candles a paper or live daemon receives, as CSV files.

Layout: ``<root>/<market>/<SYMBOL>_<timeframe>.csv`` (``market`` is ``spot`` or
``futures``) with the header ``timestamp,open,high,low,close,volume`` (open time in UTC
milliseconds) — the replay and backtest format. So the folder can be replayed
(``replay_data_dir: <root>``) or backtested (``--data <root>/spot``).

* Append-only, one line per closed candle, at most one line per open time: a candle at
  or before the last one recorded (a warm-up after a restart, a late duplicate) is not
  written again.
* A line torn by a crash in the middle of a write is cut off when the file is reopened.
* Writing never stops the feed: an I/O error is logged and the candle is dropped.
* Floats are written with ``repr`` (shortest exact form), so a file reads back to the
  very values the engines saw.
"""

from __future__ import annotations

import os
from pathlib import Path

from kinetic.domain import Candle
from kinetic.logging import get_logger

HEADER = "timestamp,open,high,low,close,volume\n"
_TAIL_BYTES = 4096  # enough for the last complete line of any candle file

log = get_logger(component="candle-recorder")


class CandleRecorder:
    """A ``LiveFeed`` subscriber that appends each delivered candle to its file."""

    def __init__(self, root: str | Path, timeframe: str) -> None:
        self.root = Path(root)
        self.timeframe = timeframe
        self.written = 0
        self._last: dict[Path, int] = {}

    def path(self, market: str, symbol: str) -> Path:
        return self.root / market / f"{symbol}_{self.timeframe}.csv"

    def __call__(self, market: str, candle: Candle) -> None:
        path = self.path(market, candle.symbol)
        try:
            last = self._last.get(path)
            if last is None:
                last = self._last[path] = _resume(path)
            if candle.open_time_ms <= last:
                return
            c = candle
            line = f"{c.open_time_ms},{c.open!r},{c.high!r},{c.low!r},{c.close!r},{c.volume!r}\n"
            with path.open("a", encoding="ascii") as fh:
                if last < 0 and fh.tell() == 0:
                    fh.write(HEADER)
                fh.write(line)
        except OSError as exc:
            log.warning("candle not recorded", path=str(path), error=str(exc))
            self._last.pop(path, None)  # re-read (and repair a torn row) before the next one
            return
        self._last[path] = candle.open_time_ms
        self.written += 1


def _resume(path: Path) -> int:
    """Open time of the last complete row of ``path`` (-1 when none); cut a torn line."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        return -1
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - _TAIL_BYTES)
        fh.seek(start)
        tail = fh.read()
        if tail and not tail.endswith(b"\n"):
            # a crash or a failed write mid-row; even a row that looks whole may have lost
            # digits of its last number, so it goes too (logged)
            cut = tail.rfind(b"\n") + 1
            fh.truncate(start + cut)
            log.warning("unfinished last row of a candle file cut off", path=str(path))
            tail = tail[:cut]
    for row in reversed(tail.splitlines()):
        first = row.split(b",", 1)[0].strip()
        if first.isdigit():
            return int(first)
    return -1

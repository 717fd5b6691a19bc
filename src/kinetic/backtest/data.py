"""Backtest inputs: candle files (a file per symbol, or a directory) and funding rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from config import ConfigValidationError
from kinetic.marketdata.files import CandleArrays, read_candles

SUFFIXES = (".csv.gz", ".csv")


@dataclass(frozen=True, slots=True)
class FundingRates:
    """Funding settlements: time (UTC ms) and rate, sorted by time."""

    ts_ms: np.ndarray
    rate: np.ndarray

    def __len__(self) -> int:
        return int(self.ts_ms.shape[0])


def parse_time_ms(text: str, flag: str) -> int:
    """Parse ``YYYY-MM-DD[THH:MM[:SS]]`` (UTC) or epoch milliseconds."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigValidationError(
            f"{flag}={text!r} is invalid; expected YYYY-MM-DD[THH:MM] (UTC) or epoch ms"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _candidates(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIXES))


def resolve_files(data: tuple[Path, ...], symbols: tuple[str, ...]) -> dict[str, Path]:
    """Map each symbol to its candle file.

    One file and one symbol: that file. A directory: the file whose name contains the
    symbol (``BTCUSDT_5m.csv.gz``, ``binance_BTCUSDT_5m_....csv.gz``). Several files:
    matched by name the same way.
    """
    if not data:
        raise ConfigValidationError("--data is required (a candle CSV/CSV.GZ or a directory)")
    files: list[Path] = []
    for path in data:
        if path.is_dir():
            files.extend(_candidates(path))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigValidationError(f"--data {path}: no such file or directory")
    if len(files) == 1 and len(symbols) == 1:
        return {symbols[0]: files[0]}
    out: dict[str, Path] = {}
    for symbol in symbols:
        match = [f for f in files if symbol.upper() in f.name.upper()]
        if not match:
            raise ConfigValidationError(f"--data: no candle file for {symbol} among {len(files)}")
        out[symbol] = match[0]
    return out


def load_candles(
    files: dict[str, Path], start_ms: int | None, end_ms: int | None
) -> dict[str, CandleArrays]:
    """Read every symbol's candles and keep those opening in ``[start_ms, end_ms)``."""
    out: dict[str, CandleArrays] = {}
    for symbol, path in files.items():
        try:
            full = read_candles(path, symbol)
        except (OSError, ValueError) as exc:
            raise ConfigValidationError(f"--data {path}: {exc}") from None
        out[symbol] = _slice(full, start_ms, end_ms)
        if len(out[symbol]) == 0:
            raise ConfigValidationError(f"--data {path}: no candles in the --from/--to window")
    return out


def _slice(a: CandleArrays, start_ms: int | None, end_ms: int | None) -> CandleArrays:
    lo = 0 if start_ms is None else int(np.searchsorted(a.open_time_ms, start_ms, "left"))
    hi = len(a) if end_ms is None else int(np.searchsorted(a.open_time_ms, end_ms, "left"))
    if lo == 0 and hi == len(a):
        return a
    return CandleArrays(
        a.symbol,
        a.interval_ms,
        a.open_time_ms[lo:hi],
        a.open[lo:hi],
        a.high[lo:hi],
        a.low[lo:hi],
        a.close[lo:hi],
        a.volume[lo:hi],
    )


def load_funding(path: Path) -> FundingRates:
    """Read a ``timestamp,funding_rate`` CSV (timestamp in UTC ms)."""
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigValidationError(f"--funding {path}: {exc}") from None
    if not {"timestamp", "funding_rate"} <= set(df.columns):
        raise ConfigValidationError(f"--funding {path}: expected columns timestamp,funding_rate")
    df = df[["timestamp", "funding_rate"]].apply(pd.to_numeric, errors="coerce").dropna()
    df = df.sort_values("timestamp", kind="stable")
    return FundingRates(
        df["timestamp"].to_numpy(dtype=np.int64), df["funding_rate"].to_numpy(dtype=np.float64)
    )

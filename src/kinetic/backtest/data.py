"""Backtest inputs: candle files (a file per symbol, or a directory) and funding rates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from config import ConfigValidationError
from kinetic.marketdata.files import INTERVAL_MS, CandleArrays, read_candles

SUFFIXES = (".parquet", ".csv.gz", ".csv")  # Parquet: what `data download/import` write
# a symbol in a file name: upper-case, ending in a quote currency (BTCUSDT, XBTUSD, ETHBTC)
_SYMBOL_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z0-9]{2,}(?:USDT|USDC|BUSD|USD|EUR|GBP|JPY|BTC|ETH|BNB)(?![A-Za-z0-9])"
)


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


def _stem(path: Path) -> str:
    name = path.name
    return next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), path.stem)


def timeframe_of(path: Path) -> str | None:
    """The timeframe a candle file's name gives (``BTCUSDT_5m.csv.gz``: ``5m``), if any."""
    tokens = set(re.split(r"[_.\-\s]+", _stem(path)))
    return next((tf for tf in INTERVAL_MS if tf in tokens), None)


def symbols_in_name(path: Path) -> list[str]:
    """Symbol-like tokens in a file name (``binance_ETHUSDT_5m.csv.gz``: ``ETHUSDT``)."""
    return _SYMBOL_TOKEN.findall(_stem(path))


def _check_symbol(path: Path, symbol: str) -> None:
    """Refuse a file whose name names another symbol (``--symbol`` must match the data)."""
    if symbol.upper() in path.name.upper():
        return
    named = symbols_in_name(path)
    if named:
        raise ConfigValidationError(
            f"--data {path} holds {named[0]} candles (by its name), not {symbol}; "
            f"pass --symbol {named[0]} or a {symbol} file"
        )


def _pick(symbol: str, match: list[Path], timeframe: str | None, where: str) -> Path:
    """The one file for ``symbol``; several timeframes without ``--timeframe`` is refused."""
    if timeframe is not None:
        match = [f for f in match if timeframe_of(f) in (timeframe, None)]
        if not match:
            raise ConfigValidationError(f"--data {where}: no {timeframe} candle file for {symbol}")
    found = sorted({tf for f in match if (tf := timeframe_of(f))}, key=INTERVAL_MS.__getitem__)
    if len(found) > 1:
        raise ConfigValidationError(
            f"--data {where}: {symbol} has {', '.join(found)} candle files; "
            f"pass --timeframe {' or '.join(found)}"
        )
    return match[0]


def resolve_files(
    data: tuple[Path, ...], symbols: tuple[str, ...], timeframe: str | None = None
) -> dict[str, Path]:
    """Map each symbol to its candle file.

    One file and one symbol: that file, unless its name names another symbol. A
    directory: the file whose name contains the symbol (``BTCUSDT_5m.csv.gz``,
    ``binance_BTCUSDT_5m_....csv.gz``); when the symbol has files of several timeframes,
    ``timeframe`` picks one (without it the choice is refused as ambiguous). Several
    files: matched by name the same way.
    """
    if not data:
        raise ConfigValidationError(
            "--data is required (a candle Parquet/CSV/CSV.GZ file or a directory)"
        )
    where = " ".join(str(p) for p in data)
    files: list[Path] = []
    for path in data:
        if path.is_dir():
            files.extend(_candidates(path))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigValidationError(f"--data {path}: no such file or directory")
    if len(files) == 1 and len(symbols) == 1:
        _check_symbol(files[0], symbols[0])
        _pick(symbols[0], files, timeframe, where)  # named for another timeframe: refused
        return {symbols[0]: files[0]}
    out: dict[str, Path] = {}
    for symbol in symbols:
        match = [f for f in files if symbol.upper() in f.name.upper()]
        if not match:
            raise ConfigValidationError(f"--data: no candle file for {symbol} among {len(files)}")
        out[symbol] = _pick(symbol, match, timeframe, where)
    return out


def load_candles(
    files: dict[str, Path], start_ms: int | None, end_ms: int | None
) -> dict[str, CandleArrays]:
    """Read every symbol's candles and keep those opening in ``[start_ms, end_ms)``."""
    out: dict[str, CandleArrays] = {}
    for symbol, path in files.items():
        try:
            full = _read_cached(path, symbol)
        except (OSError, ValueError) as exc:
            detail = str(exc).removeprefix(f"{path}: ")
            raise ConfigValidationError(f"--data {path}: {detail}") from None
        if len(full) == 0:
            raise ConfigValidationError(f"--data {path}: the file has no candles")
        out[symbol] = _slice(full, start_ms, end_ms)
        if len(out[symbol]) == 0:
            raise ConfigValidationError(
                f"--data {path}: no candles in the --from/--to window (the file has {_span(full)})"
            )
    return out


_CACHE_FILES = 8
_cache: dict[tuple[str, int, int, str], CandleArrays] = {}


def _read_cached(path: Path, symbol: str) -> CandleArrays:
    """``read_candles``, remembered per file version (path, mtime, size), read-only arrays.

    An optimize worker runs hundreds of backtests on the same files; parsing a 65k-row
    gzip CSV is about a third of a short trial. The arrays are made read-only, so a
    run that tried to write into them would fail loudly instead of changing the next.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, symbol)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    full = read_candles(path, symbol)
    for arr in (full.open_time_ms, full.open, full.high, full.low, full.close, full.volume):
        arr.flags.writeable = False
    if len(_cache) >= _CACHE_FILES:
        _cache.pop(next(iter(_cache)))
    _cache[key] = full
    return full


def _span(a: CandleArrays) -> str:
    first, last = (
        datetime.fromtimestamp(int(t) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
        for t in (a.open_time_ms[0], a.open_time_ms[-1])
    )
    return f"{len(a)} candles from {first} to {last} UTC"


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
    # imported here: pandas costs a backtest about 110 MB of RSS and only this reads it
    import pandas as pd

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

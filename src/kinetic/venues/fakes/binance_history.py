"""Market history of the fake Binance USD-M: funding-rate history and mark-price klines.

``GET /fapi/v1/fundingRate`` (``symbol`` optional, ``startTime``/``endTime`` inclusive,
``limit`` default 100, at most 1000; with ``startTime`` the first ``limit`` rows from it,
without it the latest ``limit``; ascending; rows ``{symbol, fundingRate, fundingTime,
markPrice}``) and ``GET /fapi/v1/markPriceKlines`` (kline rows of the mark price; the
volume columns are ``"0"``; ``limit`` default 500, at most 1500), as the venue documents
them. Rows come from ``add_funding_rate`` / ``add_mark_candle``; with a candle tape and
none added, from the tape (funding 0.01% every 8 hours at the mark price, which the
fake takes to be the last price).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kinetic.venues.fakes.binance_state import ApiError

if TYPE_CHECKING:
    from kinetic.venues.fakes.binance_server import FakeBinance

FUNDING_EVERY_MS = 8 * 3_600_000
TAPE_FUNDING_RATE = "0.00010000"


def _limit(q: dict[str, str], default: int, most: int) -> int:
    try:
        limit = int(q.get("limit", default))
    except ValueError:
        limit = -1
    if not 1 <= limit <= most:
        raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def _window(rows: list[Any], time_of: Callable[[Any], int], q: dict[str, str], limit: int) -> Any:
    start = int(q["startTime"]) if "startTime" in q else None
    end = int(q["endTime"]) if "endTime" in q else None
    picked = [
        r
        for r in rows
        if (start is None or time_of(r) >= start) and (end is None or time_of(r) <= end)
    ]
    return picked[:limit] if start is not None else picked[-limit:]


def funding_rate(srv: FakeBinance, q: dict[str, str]) -> Any:
    """``GET /fapi/v1/fundingRate``."""
    limit = _limit(q, 100, 1000)
    symbol = q.get("symbol")
    if symbol is not None:
        srv.book.sym(symbol)
    symbols = [symbol] if symbol else sorted({*srv.book.funding_rates, *_tape_symbols(srv)})
    rows = sorted(
        (r for s in symbols for r in _funding_rows(srv, s, q)), key=lambda r: r["fundingTime"]
    )
    return _window(rows, lambda r: int(r["fundingTime"]), q, limit)


def mark_price_klines(srv: FakeBinance, q: dict[str, str]) -> Any:
    """``GET /fapi/v1/markPriceKlines``."""
    srv.book.sym(q.get("symbol", ""))
    limit = _limit(q, 500, 1500)
    rows = srv.book.mark_candles.get(q["symbol"])
    if rows is None and srv.tape is not None:
        return [_as_mark(row) for row in srv.tape_klines({**q, "limit": str(limit)})]
    return _window(rows or [], lambda r: int(r[0]), q, limit)


def _as_mark(row: list[Any]) -> list[Any]:
    t, o, h, lo, c, _v, close_ms, *_ = row
    return [t, o, h, lo, c, "0", close_ms, "0", 1, "0", "0", "0"]


def _tape_symbols(srv: FakeBinance) -> list[str]:
    return list(srv.tape.series) if srv.tape is not None else []


def _funding_rows(srv: FakeBinance, symbol: str, q: dict[str, str]) -> list[dict[str, Any]]:
    rows = srv.book.funding_rates.get(symbol)
    if rows is not None or srv.tape is None or symbol not in srv.tape.series:
        return rows or []
    start = int(q.get("startTime", 0))
    end = min(int(q.get("endTime", srv.now_ms())), srv.now_ms())
    bars = srv.tape.bars(symbol, FUNDING_EVERY_MS, start_ms=start, end_ms=end, limit=1000)
    return [
        {"symbol": symbol, "fundingTime": t, "fundingRate": TAPE_FUNDING_RATE,
         "markPrice": f"{o:.8f}"}
        for t, o, *_ in bars
    ]  # fmt: skip

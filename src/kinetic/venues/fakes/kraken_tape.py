"""The Kraken fakes' side of the sandbox's candle tape: OHLC, charts and prices."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kinetic.venues.fakes.tape import Bar

if TYPE_CHECKING:
    from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
    from kinetic.venues.fakes.kraken_server import FakeKrakenSpot

D = Decimal
CHART_RESOLUTIONS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000}
CHART_RESOLUTIONS |= {"1h": 3_600_000, "4h": 14_400_000, "12h": 43_200_000, "1d": 86_400_000}


# ---------------------------------------------------------------------- spot
def spot_ohlc(srv: FakeKrakenSpot, key: str, p: dict[str, str]) -> dict[str, Any]:
    """The ``OHLC`` result (rows and ``last``); the last row is the forming bar."""
    assert srv.tape is not None
    step = int(p.get("interval", "1")) * 60_000
    since = p.get("since")
    tape_symbol = srv.tape_names.get(key)
    if tape_symbol is None:
        return {key: [], "last": 0}
    start = int(since) * 1000 + 1 if since else None
    rows = [_ohlc_row(b) for b in srv.tape.bars(tape_symbol, step, start_ms=start, limit=720)]
    return {key: rows, "last": rows[-2][0] if len(rows) > 1 else int(since or 0)}


def spot_snapshot(srv: FakeKrakenSpot, ws: web.WebSocketResponse) -> list[dict[str, Any]]:
    """The ``ohlc`` snapshot for a new subscription: the last closed and the forming bar."""
    assert srv.tape is not None
    symbols, minutes = srv.ohlc_subs.get(ws, (set(), 1))
    out = []
    for name in sorted(symbols):
        tape_symbol = srv.tape_names.get(srv.pair_key(name))
        if tape_symbol is not None:
            bars = srv.tape.bars(tape_symbol, minutes * 60_000, limit=2)
            out += [_ws_ohlc(name, b, minutes) for b in bars]
    return out


async def spot_tick(srv: FakeKrakenSpot) -> None:
    """Move prices to the tape's last closes; push ``ohlc`` updates when a bar closes."""
    assert srv.tape is not None
    now = srv.tape.market_now_ms()
    for key, tape_symbol in srv.tape_names.items():
        n = srv.tape.closed_count(tape_symbol, now)
        if srv.tape_seen.get(key) != n:
            srv.tape_seen[key] = n
            tick = D(srv.pairs[key]["tick_size"])
            srv.set_price(key, D(repr(srv.tape.last_close(tape_symbol, now))).quantize(tick))
    for ws, (symbols, minutes) in list(srv.ohlc_subs.items()):
        for name in sorted(symbols):
            await _push_ohlc(srv, ws, name, minutes, now)


async def _push_ohlc(
    srv: FakeKrakenSpot, ws: web.WebSocketResponse, name: str, minutes: int, now: int
) -> None:
    assert srv.tape is not None
    tape_symbol = srv.tape_names.get(srv.pair_key(name))
    if tape_symbol is None or ws.closed or srv.silent or ws in srv.muted:
        return
    step = minutes * 60_000
    current = now // step * step
    key = (id(ws), name, step)
    previous = srv.ohlc_pushed.setdefault(key, current)
    if previous == current:
        return
    srv.ohlc_pushed[key] = current
    # the bar that closed (final values), then the new forming one: Kraken's stream
    # knows a bar is final when a later interval_begin arrives
    opens = range(max(previous, current - 100 * step), current + step, step)
    bars = [b for t in opens if (b := srv.tape.bar(tape_symbol, step, t, now)) is not None]
    data = [_ws_ohlc(name, b, minutes) for b in bars]
    await ws.send_json({"channel": "ohlc", "type": "update", "data": data})


def _ohlc_row(bar: Bar) -> list[Any]:
    t, o, h, lo, c, v = bar
    return [t // 1000, f"{o:.8f}", f"{h:.8f}", f"{lo:.8f}", f"{c:.8f}", f"{c:.8f}", f"{v:.8f}", 1]


def _ws_ohlc(name: str, bar: Bar, minutes: int) -> dict[str, Any]:
    t, o, h, lo, c, v = bar
    return {
        "symbol": name,
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "trades": 1,
        "volume": v,
        "vwap": c,
        "interval_begin": _iso(t),
        "interval": minutes,
        "timestamp": _iso(t + minutes * 60_000),
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------- futures
def futures_charts(
    srv: FakeKrakenFutures, symbol: str, resolution: str, query: dict[str, str]
) -> list[dict[str, Any]]:
    """Charts-API candles of ``symbol`` between ``from`` and ``to`` (seconds)."""
    assert srv.tape is not None
    tape_symbol, step = srv.tape_names.get(symbol), CHART_RESOLUTIONS.get(resolution)
    if tape_symbol is None or step is None:
        return []
    lo = int(query.get("from", 0)) * 1000
    hi = int(query["to"]) * 1000 if "to" in query else None
    bars = srv.tape.bars(tape_symbol, step, start_ms=lo, end_ms=hi, limit=2000)
    return [
        {
            "time": t,
            "open": f"{o:.8f}",
            "high": f"{h:.8f}",
            "low": f"{low:.8f}",
            "close": f"{c:.8f}",
            "volume": f"{v:.8f}",
        }
        for t, o, h, low, c, v in bars
    ]


async def futures_tick(srv: FakeKrakenFutures) -> None:
    """Move prices to the tape's last closes (candles are polled over REST)."""
    assert srv.tape is not None
    now = srv.tape.market_now_ms()
    for symbol, tape_symbol in srv.tape_names.items():
        n = srv.tape.closed_count(tape_symbol, now)
        if srv.tape_seen.get(symbol) != n:
            srv.tape_seen[symbol] = n
            tick = D(str(srv.instrument(symbol)["tickSize"]))
            price = D(repr(srv.tape.last_close(tape_symbol, now)))
            srv.set_price(symbol, (price / tick).to_integral_value() * tick)

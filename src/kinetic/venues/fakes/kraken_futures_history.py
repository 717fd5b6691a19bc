"""Market history of the fake Kraken Futures: charts (trade and mark) and funding rates.

* ``GET /api/charts/v1/{trade|mark}/{symbol}/{resolution}?from=&to=`` (seconds):
  ``{"candles": [{time (ms), open, high, low, close, volume}], "more_candles": bool}``,
  at most ``CHART_MAX`` candles from ``from`` on (``more_candles`` says there are more).
  Mark candles have volume 0.
* ``GET /derivatives/api/v3/historical-funding-rates?symbol=``: the symbol's whole
  history, ascending, ``{"rates": [{timestamp (ISO 8601), fundingRate (absolute, per
  contract), relativeFundingRate (fraction)}]}``; an unknown symbol is error 11
  "Argument invalid: symbol".

Rows come from ``add_chart_candle`` / ``add_funding_rate``; with a candle tape and none
added, from the tape (hourly funding of 0.001%).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kinetic.venues.fakes import kraken_tape

if TYPE_CHECKING:
    from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures

CHART_MAX = 2000
HOUR_MS = 3_600_000
TAPE_RELATIVE_RATE = 0.00001


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def charts(
    srv: FakeKrakenFutures, tick_type: str, symbol: str, res: str, query: dict[str, str]
) -> dict[str, Any]:
    """Answer the charts API for ``tick_type`` ``trade`` or ``mark``."""
    stored = (srv.mark_candles if tick_type == "mark" else srv.candles).get(symbol)
    if stored is None and srv.tape is not None:
        rows = kraken_tape.futures_charts(srv, symbol, res, query)
        if tick_type == "mark":
            rows = [{**r, "volume": 0} for r in rows]
        return {"candles": rows, "more_candles": False}
    lo = int(query.get("from", 0)) * 1000
    hi = int(query["to"]) * 1000 if "to" in query else srv.clock_time() * 1000
    picked = [c for c in stored or [] if lo <= c["time"] <= hi]
    return {"candles": picked[:CHART_MAX], "more_candles": len(picked) > CHART_MAX}


def historical_funding_rates(srv: FakeKrakenFutures, p: dict[str, str]) -> dict[str, Any]:
    """Answer ``historical-funding-rates`` (the caller adds result and serverTime)."""
    symbol = p.get("symbol", "")
    if symbol not in {i["symbol"] for i in srv.instruments}:
        errors = [{"code": 11, "message": "Argument invalid: symbol"}]
        return {"result": "error", "status": "BAD_REQUEST", "errors": errors}
    rows = srv.funding_rates.get(symbol)
    if rows is None and srv.tape is not None and symbol in srv.tape_names:
        rows = _tape_rates(srv, symbol)
    return {"rates": list(rows or [])}


def _tape_rates(srv: FakeKrakenFutures, symbol: str) -> list[dict[str, Any]]:
    assert srv.tape is not None
    now = srv.tape.market_now_ms()
    bars = srv.tape.bars(srv.tape_names[symbol], HOUR_MS, start_ms=0, end_ms=now, limit=100_000)
    return [
        {"timestamp": iso(t), "fundingRate": TAPE_RELATIVE_RATE * o,
         "relativeFundingRate": TAPE_RELATIVE_RATE}
        for t, o, *_ in bars
    ]  # fmt: skip

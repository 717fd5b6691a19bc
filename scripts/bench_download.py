"""Download throughput against the fake Binance USD-M venue (issue 14, `make bench`).

Serves ``--candles`` one-minute klines and ``--funding`` funding rates from the fake
venue on 127.0.0.1 (in this process, as the tests run it), then times:

* ``kinetic_candles``: ``ops.data.download`` of the klines the way ``main.py data
  download`` runs it: our Binance futures client (its rate limiter, time sync, retries),
  1000 per page, staged per page and merged into the Parquet file;
* ``kinetic_funding``: the same for ``/fapi/v1/fundingRate`` into the funding CSV;
* ``ccxt_candles`` / ``ccxt_funding``, the peer: ccxt's ``binanceusdm``
  ``fetch_ohlcv`` / ``fetch_funding_rate_history`` paged the same way (1000 per call,
  its rate limiter off, as ours does not throttle within the venue's budget here), rows
  kept in memory and nothing written.

Prints one JSON object: rows, seconds, rows/s and requests for each, the best of
``--repeat`` runs (alternating ours and the peer; the first run of each pays its
warm-up: imports, the HTTP session, ccxt's markets). The fake venue
shares the CPU with the client, so the figures are a floor for a real venue's loopback
cost, not a network measurement; the comparison is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kinetic.clock import RealClock  # noqa: E402
from kinetic.ops import data  # noqa: E402
from kinetic.venues.binance import BinanceFuturesClient  # noqa: E402
from kinetic.venues.fakes.binance_server import FakeBinance  # noqa: E402

MIN = 60_000
H8 = 8 * 3_600_000
BLOCKED = "http://127.0.0.1:9/blocked"  # anything ccxt tries beyond the fake: refused


def _serve(candles: int, funding: int) -> tuple[FakeBinance, int, int]:
    server = FakeBinance(futures=True, clock=RealClock())
    now = int(time.time() * 1000) // MIN * MIN
    t0 = now - (candles + 10) * MIN
    for i in range(candles):
        server.add_candle("BTCUSDT", t0 + i * MIN, 30_000.0 + (i * 7919) % 500)
    f0 = now - (funding + 1) * H8
    for i in range(funding):
        server.add_funding_rate("BTCUSDT", f0 + i * H8, f"{(i % 7 - 3) * 1e-5:.8f}", "30000")
    return server, t0, f0


async def _ours(server: FakeBinance, kind: str, start: int, end: int) -> dict[str, Any]:
    client = BinanceFuturesClient(RealClock(), base_url=server.url)
    before = server.request_total
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        got = await data.download(
            client, "binance-futures", ["BTCUSDT"], "1m", start, end, Path(tmp), kind=kind
        )
        elapsed = time.perf_counter() - t
    await client.close()
    return _figures(got["BTCUSDT"], elapsed, server.request_total - before)


def _ccxt(server: FakeBinance) -> Any:
    import ccxt.async_support as ccxt_async

    ex = ccxt_async.binanceusdm(
        {
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["linear"]}, "fetchMargins": False,
                        "fetchCurrencies": False, "defaultType": "swap"},
        }
    )  # fmt: skip
    api = {
        f"fapi{kind}{v}": f"{server.url}/fapi/v{n}"
        for kind in ("Public", "Private")
        for v, n in (("", 1), ("V2", 2), ("V3", 3))
    }
    ex.urls["api"] = {k: api.get(k, BLOCKED) for k in ex.urls["api"]}
    ex.urls.pop("test", None)
    return ex


async def _ccxt_run(server: FakeBinance, kind: str, start: int, end: int) -> dict[str, Any]:
    ex = _ccxt(server)
    await ex.load_markets()
    before = server.request_total
    rows: list[Any] = []
    since = start
    t = time.perf_counter()
    try:
        while since < end:
            if kind == "candles":
                raw = await ex.fetch_ohlcv("BTC/USDT:USDT", "1m", since, 1000)
                times = [r[0] for r in raw]
            else:
                raw = await ex.fetch_funding_rate_history("BTC/USDT:USDT", since, 1000)
                times = [r["timestamp"] for r in raw]
            page = [r for r, ts in zip(raw, times, strict=True) if since <= ts < end]
            if not page:
                break
            rows.extend(page)
            since = max(ts for ts in times if ts < end) + (MIN if kind == "candles" else 1)
        elapsed = time.perf_counter() - t
    finally:
        await ex.close()
    return _figures(len(rows), elapsed, server.request_total - before)


def _figures(rows: int, seconds: float, requests: int) -> dict[str, Any]:
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds),
            "requests": requests}  # fmt: skip


async def main_async(candles: int, funding: int, repeat: int) -> dict[str, Any]:
    server, t0, f0 = _serve(candles, funding)
    await server.start()
    spans = {"candles": (t0, t0 + candles * MIN), "funding": (f0, f0 + funding * H8)}
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        for _ in range(repeat):  # alternated, so both see the same machine load
            for kind, (start, end) in spans.items():
                runs.setdefault(f"kinetic_{kind}", []).append(await _ours(server, kind, start, end))
                runs.setdefault(f"ccxt_{kind}", []).append(
                    await _ccxt_run(server, kind, start, end)
                )
    finally:
        await server.stop()
    out: dict[str, Any] = {"candles": candles, "funding_rates": funding, "repeat": repeat}
    for name, results in sorted(runs.items()):
        out[name] = min(results, key=lambda r: r["seconds"])  # best of `repeat`
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=100_000)
    ap.add_argument("--funding", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main_async(args.candles, args.funding, args.repeat))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

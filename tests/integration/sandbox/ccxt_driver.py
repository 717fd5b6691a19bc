"""Drive the sandbox venues with ccxt, a client nobody here wrote (issue 16, item 2).

Each venue gets the calls a trader's own tools make: markets, ticker, candles, balance,
limit and market orders with a client order id, fetch, open orders, cancel by id and by
client id, trades; the futures venues also leverage, positions and a reduce-only stop.
Every call is recorded (name, ok, error) and every URL ccxt requests is recorded too: a
URL that is not loopback is refused before it leaves the process.

    python -m tests.integration.sandbox.ccxt_driver   # starts a sandbox, prints the table
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async

LOOPBACK = ("127.0.0.1", "::1", "localhost")
BLOCKED = "http://127.0.0.1:9/blocked-non-loopback"  # discard port: nothing listens


@dataclass
class Call:
    """One ccxt call and how it went."""

    name: str
    ok: bool
    error: str = ""


@dataclass
class Report:
    """The calls made on one venue and every URL requested."""

    venue: str
    calls: list[Call] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Call]:
        return [c for c in self.calls if not c.ok]


class NonLoopbackError(RuntimeError):
    """ccxt tried to reach a host that is not loopback."""


def _guarded(cls: type[Any], report: Report) -> type[Any]:
    """A subclass of the ccxt exchange that records every URL and refuses non-loopback."""

    class Guarded(cls):  # type: ignore[misc, valid-type]
        async def fetch(
            self, url: str, method: str = "GET", headers: Any = None, body: Any = None
        ) -> Any:
            report.urls.append(f"{method} {url}")
            if urlsplit(url).hostname not in LOOPBACK:
                raise NonLoopbackError(url)
            return await super().fetch(url, method, headers, body)

    return Guarded


def _point_at(urls: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """``urls['api']`` with ``mapping`` applied and every other entry blocked."""
    return {k: mapping.get(k, BLOCKED) for k in urls}


def make_exchange(venue: str, info: dict[str, str], report: Report) -> Any:
    """A ccxt exchange pointed at one sandbox venue (keys, urls, offline options)."""
    rest = info["rest"]
    common = {"apiKey": info["api_key"], "secret": info["api_secret"], "enableRateLimit": False}
    if venue == "binance_spot":
        ex = _guarded(ccxt_async.binance, report)(
            {
                **common,
                "options": {
                    "fetchMarkets": {"types": ["spot"]},
                    "fetchMargins": False,
                    "fetchCurrencies": False,  # sapi wallet endpoints: not faked
                    "defaultType": "spot",
                },
            }
        )
        api = {"public": f"{rest}/api/v3", "private": f"{rest}/api/v3", "v1": f"{rest}/api/v1"}
    elif venue == "binance_usdm":
        ex = _guarded(ccxt_async.binanceusdm, report)(
            {
                **common,
                "options": {
                    "fetchMarkets": {"types": ["linear"]},
                    "fetchMargins": False,
                    "fetchCurrencies": False,
                    "defaultType": "swap",
                },
            }
        )
        api = {
            f"fapi{kind}{v}": f"{rest}/fapi/v{n}"
            for kind in ("Public", "Private")
            for v, n in (("", 1), ("V2", 2), ("V3", 3))
        }
    elif venue == "kraken_spot":
        ex = _guarded(ccxt_async.kraken, report)(common)
        ex.nonce = _increasing_ms_nonce()
        api = {"public": rest, "private": rest}
    else:
        ex = _guarded(ccxt_async.krakenfutures, report)(common)
        api = {
            "public": f"{rest}/derivatives/api/",
            "private": f"{rest}/derivatives/api/",
            "charts": f"{rest}/api/charts/",
        }
    ex.urls["api"] = _point_at(ex.urls["api"], api)
    ex.urls.pop("test", None)
    return ex


def _increasing_ms_nonce() -> Callable[[], int]:
    """ccxt's Kraken nonce is the clock's ms: two calls in one ms repeat it, and Kraken
    (the fake too) refuses a nonce that does not increase. Ccxt's advice: supply your own."""
    last = [0]

    def nonce() -> int:
        last[0] = max(last[0] + 1, int(time.time() * 1000))
        return last[0]

    return nonce


async def _call(report: Report, name: str, fn: Callable[[], Awaitable[Any]]) -> Any:
    try:
        result = await fn()
    except Exception as exc:  # a failed call is a finding, recorded with its error
        report.calls.append(Call(name, False, f"{type(exc).__name__}: {exc}"[:300]))
        return None
    report.calls.append(Call(name, True))
    return result


SYMBOLS = {
    "binance_spot": "BTC/USDT",
    "binance_usdm": "BTC/USDT:USDT",
    "kraken_spot": "BTC/USDT",
    "kraken_futures": "BTC/USD:USD",
}
AMOUNTS = {"binance_spot": 0.01, "binance_usdm": 0.01, "kraken_spot": 0.01, "kraken_futures": 0.01}


def _cid(venue: str, tag: str) -> str:
    stamp = int(time.time() * 1000) % 10**9
    if venue == "kraken_spot":  # Kraken spot wants a UUID (or short free text)
        return f"{stamp:08d}-0000-4000-8000-{abs(hash(tag)) % 10**12:012d}"
    return f"ccxt{tag}{stamp}"


async def drive(venue: str, info: dict[str, str]) -> Report:
    """Make every call on one venue; return what happened."""
    report = Report(venue)
    ex = make_exchange(venue, info, report)
    try:
        await _drive(ex, venue, report)
    finally:
        await ex.close()
    return report


# how a trader names a client id to cancel by (ccxt passes these through)
CANCEL_BY_CLIENT_ID = {
    "binance_spot": "origClientOrderId",
    "binance_usdm": "origClientOrderId",
    "kraken_spot": "cl_ord_id",
    "kraken_futures": "cliOrdId",
}


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(what)


async def _checked(fn: Callable[[], Awaitable[Any]], check: Callable[[Any], bool]) -> Any:
    """Await ``fn()`` and fail the call unless ``check(result)`` holds."""
    result = await fn()
    _expect(check(result), f"unexpected result: {json.dumps(result, default=str)[:300]}")
    return result


async def _drive(ex: Any, venue: str, report: Report) -> None:
    sym, amount = SYMBOLS[venue], AMOUNTS[venue]
    markets = await _call(report, "load_markets", ex.load_markets)
    if not markets or sym not in markets:
        report.calls.append(Call("market_listed", False, f"{sym} not in {list(markets or [])}"))
        return
    ticker = await _call(
        report, "fetch_ticker", lambda: _checked(lambda: ex.fetch_ticker(sym), _has_last)
    )
    await _call(report, "fetch_tickers", lambda: _checked(ex.fetch_tickers, lambda t: sym in t))
    await _call(
        report,
        "fetch_ohlcv",
        lambda: _checked(lambda: ex.fetch_ohlcv(sym, "5m", limit=50), lambda r: len(r) >= 10),
    )
    quote = ex.markets[sym]["settle"] or ex.markets[sym]["quote"]
    await _call(
        report,
        "fetch_balance",
        lambda: _checked(ex.fetch_balance, lambda b: (b.get("total") or {}).get(quote, 0) > 0),
    )
    last = float(ticker["last"]) if ticker else 0.0
    if not last:
        return
    if venue in ("binance_usdm", "kraken_futures"):
        await _call(report, "set_leverage", lambda: ex.set_leverage(5, sym))
        await _call(
            report,
            "fetch_leverage",
            lambda: _checked(lambda: ex.fetch_leverage(sym), lambda lev: lev["longLeverage"] == 5),
        )
    await _orders(ex, venue, sym, amount, last, report)
    if venue == "kraken_spot":
        await _userref(ex, sym, amount, last, report)
    if venue in ("binance_usdm", "kraken_futures"):
        await _futures_calls(ex, venue, sym, amount, last, report)


def _has_last(t: Any) -> bool:
    return bool(t.get("last"))


async def _orders(ex: Any, venue: str, sym: str, amount: float, last: float, r: Report) -> None:
    low = float(ex.price_to_precision(sym, last * 0.8))
    cid1, cid2, cid3 = _cid(venue, "a"), _cid(venue, "b"), _cid(venue, "c")
    limit = await _call(
        r,
        "create_limit_order",
        lambda: _checked(
            lambda: ex.create_order(sym, "limit", "buy", amount, low, {"clientOrderId": cid1}),
            lambda o: bool(o.get("id")),
        ),
    )
    if limit:
        await _call(
            r,
            "fetch_order",
            lambda: _checked(
                lambda: ex.fetch_order(limit["id"], sym),
                lambda o: o["status"] == "open" and o["clientOrderId"] == cid1,
            ),
        )
    await _call(
        r,
        "fetch_open_orders",
        lambda: _checked(
            lambda: ex.fetch_open_orders(sym),
            lambda os: any(o["clientOrderId"] == cid1 and o["amount"] == amount for o in os),
        ),
    )
    if limit:
        await _call(r, "cancel_order_by_id", lambda: ex.cancel_order(limit["id"], sym))
    await _call(
        r,
        "create_limit_order_2",
        lambda: ex.create_order(sym, "limit", "buy", amount, low, {"clientOrderId": cid2}),
    )
    await _call(
        r,
        "cancel_order_by_client_id",
        lambda: ex.cancel_order(None, sym, {CANCEL_BY_CLIENT_ID[venue]: cid2}),
    )
    await _call(
        r,
        "open_orders_after_cancels",
        lambda: _checked(lambda: ex.fetch_open_orders(sym), lambda os: not os),
    )
    market = await _call(
        r,
        "create_market_order",
        lambda: ex.create_order(sym, "market", "buy", amount, None, {"clientOrderId": cid3}),
    )
    if market:
        await _call(
            r,
            "fetch_market_order",
            lambda: _checked(
                lambda: ex.fetch_order(market["id"], sym),
                lambda o: (
                    o["status"] == "closed" and o["filled"] == amount and o["clientOrderId"] == cid3
                ),
            ),
        )
        await _call(
            r,
            "fetch_my_trades",
            lambda: _checked(
                lambda: ex.fetch_my_trades(sym),
                lambda ts: any(t["order"] == market["id"] and t["amount"] == amount for t in ts),
            ),
        )


async def _userref(ex: Any, sym: str, amount: float, last: float, r: Report) -> None:
    """Kraken's other order tag: ``userref`` (an int32) is kept, returned and cancels."""
    low = float(ex.price_to_precision(sym, last * 0.8))
    await _call(
        r,
        "create_limit_order_userref",
        lambda: _checked(
            lambda: ex.create_order(sym, "limit", "buy", amount, low, {"userref": 4242}),
            lambda o: bool(o.get("id")),
        ),
    )
    await _call(
        r,
        "cancel_order_by_userref",
        lambda: _checked(
            lambda: _cancel_userref(ex, sym),
            lambda os: any(o["clientOrderId"] == "4242" for o in os),
        ),
    )


async def _cancel_userref(ex: Any, sym: str) -> list[Any]:
    """The open orders tagged 4242 (as ccxt sees them), then cancel them by the tag."""
    tagged = await ex.fetch_open_orders(sym, params={"userref": 4242})
    await ex.cancel_order(None, sym, {"userref": 4242})
    left = await ex.fetch_open_orders(sym)
    _expect(not left, f"still open after cancel by userref: {left}")
    return list(tagged)


async def _futures_calls(
    ex: Any, venue: str, sym: str, amount: float, last: float, report: Report
) -> None:
    def long_of(amount_: float) -> Callable[[Any], bool]:
        return lambda ps: sum(float(p.get("contracts") or 0) for p in ps) == amount_

    await _call(
        report,
        "fetch_positions",
        lambda: _checked(lambda: ex.fetch_positions([sym]), long_of(amount)),
    )
    trigger = float(ex.price_to_precision(sym, last * 0.9))
    cid = _cid(venue, "s")
    params = {"reduceOnly": True, "triggerPrice": trigger, "clientOrderId": cid}
    stop = await _call(
        report,
        "create_reduce_only_stop",
        lambda: ex.create_order(sym, "market", "sell", amount, None, params),
    )
    if stop:
        await _call(
            report,
            "fetch_stop_order",
            lambda: _checked(
                lambda: _fetch_stop(ex, venue, stop["id"], sym),
                lambda o: (
                    o["status"] == "open"
                    and o["reduceOnly"] is True
                    and o["triggerPrice"] == trigger
                ),
            ),
        )
        await _call(report, "cancel_stop_order", lambda: _cancel_stop(ex, venue, stop["id"], sym))
    await _call(
        report,
        "close_position_market",
        lambda: ex.create_order(sym, "market", "sell", amount, None, {"reduceOnly": True}),
    )
    await _call(
        report,
        "fetch_positions_flat",
        lambda: _checked(lambda: ex.fetch_positions([sym]), long_of(0)),
    )


async def _fetch_stop(ex: Any, venue: str, order_id: str, sym: str) -> Any:
    params = {"trigger": True} if venue == "binance_usdm" else {}
    return await ex.fetch_order(order_id, sym, params)


async def _cancel_stop(ex: Any, venue: str, order_id: str, sym: str) -> Any:
    params = {"trigger": True} if venue == "binance_usdm" else {}
    return await ex.cancel_order(order_id, sym, params)


async def drive_all(out: dict[str, Any]) -> list[Report]:
    """Drive the four venues of a ``sandbox --json`` summary, one after another."""
    return [await drive(v, out[v]) for v in SYMBOLS]


def _main() -> None:
    from tests.integration.sandbox.support import first_json_line, spawn

    proc = spawn(["main.py", "sandbox", "--json"])
    try:
        out = first_json_line(proc)
        reports = asyncio.run(drive_all(out))
    finally:
        proc.terminate()
        with contextlib.suppress(Exception):
            proc.wait(30)
    for r in reports:
        ok = sum(c.ok for c in r.calls)
        print(f"{r.venue}: {len(r.calls)} calls, {len(r.failures)} failed ({ok} ok)")
        for c in r.failures:
            print(f"   FAIL {c.name}: {c.error}")
        bad = [u for u in r.urls if urlsplit(u.split(" ", 1)[1]).hostname not in LOOPBACK]
        print(f"   urls: {len(r.urls)} ({len(bad)} non-loopback)")
        print("   " + json.dumps(sorted({u.split("?")[0] for u in r.urls}))[:2000])


if __name__ == "__main__":
    _main()

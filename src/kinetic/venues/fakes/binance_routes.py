"""REST handlers of the fake Binance server, keyed by (method, path)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kinetic.venues.fakes import binance_history as history
from kinetic.venues.fakes import binance_market as market
from kinetic.venues.fakes.binance_state import ApiError

if TYPE_CHECKING:
    from kinetic.venues.fakes.binance_server import FakeBinance

MARGIN_TYPES = {"CROSSED": "cross", "ISOLATED": "isolated"}  # positionRisk v2 spelling
Route = tuple[Callable[[dict[str, str]], Awaitable[Any]], str]


def build_routes(srv: FakeBinance) -> dict[tuple[str, str], Route]:  # noqa: C901 - a table of closures
    """Return the route table for the server's market (spot or USD-M)."""
    b = srv.book
    p = "/fapi/v1" if srv.futures else "/api/v3"

    async def time(_: dict[str, str]) -> Any:
        return {"serverTime": srv.now_ms()}

    async def info(_: dict[str, str]) -> Any:
        return b.exchange_info(srv.now_ms())

    async def klines(q: dict[str, str]) -> Any:
        b.sym(q.get("symbol", ""))
        if srv.tape is not None:
            return srv.tape_klines(q)
        rows = b.candles.get(q["symbol"], [])
        start = int(q.get("startTime", 0))
        rows = [r for r in rows if r[0] >= start]
        limit = int(q.get("limit", 500))
        return rows[:limit] if "startTime" in q else rows[-limit:]

    async def new_order(q: dict[str, str]) -> Any:
        return b.order_json(b.new_order(q, srv.now_ms()))

    async def test_order(q: dict[str, str]) -> Any:
        b.test_order(q)
        return {}

    async def get_order(q: dict[str, str]) -> Any:
        return b.order_json(b.find(q))

    async def cancel(q: dict[str, str]) -> Any:
        return b.order_json(b.cancel(b.find(q)))

    async def open_orders(q: dict[str, str]) -> Any:
        return [b.order_json(o) for o in b.open_orders(q.get("symbol"))]

    async def cancel_all_spot(q: dict[str, str]) -> Any:
        orders = b.open_orders(q.get("symbol"))
        if not orders:
            raise ApiError(-2011, "Unknown order sent.")
        return [b.order_json(b.cancel(o)) for o in orders]

    async def cancel_all_futures(q: dict[str, str]) -> Any:
        for o in b.open_orders(q.get("symbol")):
            b.cancel(o)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    async def trades(q: dict[str, str]) -> Any:
        start = int(q.get("startTime", 0))
        return [t for t in b.trades if t["symbol"] == q.get("symbol") and t["time"] >= start]

    async def account(_: dict[str, str]) -> Any:
        return {
            "balances": [{"asset": a, "free": str(v), "locked": "0"} for a, v in b.balances.items()]
        }

    routes: dict[tuple[str, str], Route] = {
        ("GET", f"{p}/time"): (time, "NONE"),
        ("GET", f"{p}/exchangeInfo"): (info, "NONE"),
        ("GET", f"{p}/klines"): (klines, "NONE"),
        ("GET", f"{p}/ticker/price"): (_bind(srv, market.ticker_price), "NONE"),
        ("GET", f"{p}/ticker/24hr"): (_bind(srv, market.ticker_24hr), "NONE"),
        ("GET", f"{p}/ticker/bookTicker"): (_bind(srv, market.book_ticker), "NONE"),
        ("POST", f"{p}/order"): (new_order, "SIGNED"),
        ("POST", f"{p}/order/test"): (test_order, "SIGNED"),
        ("GET", f"{p}/order"): (get_order, "SIGNED"),
        ("DELETE", f"{p}/order"): (cancel, "SIGNED"),
        ("GET", f"{p}/openOrders"): (open_orders, "SIGNED"),
    }
    if not srv.futures:
        routes[("DELETE", f"{p}/openOrders")] = (cancel_all_spot, "SIGNED")
        routes[("GET", f"{p}/myTrades")] = (trades, "SIGNED")
        routes[("GET", f"{p}/account")] = (account, "SIGNED")
        return routes
    routes[("DELETE", f"{p}/allOpenOrders")] = (cancel_all_futures, "SIGNED")
    routes[("GET", f"{p}/userTrades")] = (trades, "SIGNED")
    routes.update(_futures_routes(srv))
    return routes


def _futures_routes(srv: FakeBinance) -> dict[tuple[str, str], Route]:  # noqa: C901
    b = srv.book

    async def balance(_: dict[str, str]) -> Any:
        available = b.wallet - b.used_margin() if b.move_balances else b.wallet - 10000
        return [
            {
                "accountAlias": "x",
                "asset": "USDT",
                "balance": str(b.wallet),
                "availableBalance": str(available),
                "crossWalletBalance": str(b.wallet),
            }
        ]

    async def leverage(q: dict[str, str]) -> Any:
        b.sym(q["symbol"])
        b.leverage[q["symbol"]] = int(q["leverage"])
        return {"leverage": int(q["leverage"]), "maxNotionalValue": "50000", "symbol": q["symbol"]}

    async def margin_type(q: dict[str, str]) -> Any:
        if b.margin_type.get(q["symbol"]) == q["marginType"]:
            raise ApiError(-4046, "No need to change margin type.")
        b.margin_type[q["symbol"]] = q["marginType"]
        return {"code": 200, "msg": "success"}

    async def dual(_: dict[str, str]) -> Any:
        return {"dualSidePosition": b.dual_side}

    async def positions(q: dict[str, str]) -> Any:
        return [r for r in b.position_rows() if q.get("symbol", r["symbol"]) == r["symbol"]]

    async def positions_v2(q: dict[str, str]) -> Any:
        rows = await positions(q)
        for r in rows:
            r.update(
                leverage=str(b.leverage.get(r["symbol"], 20)),
                marginType=MARGIN_TYPES[b.margin_type.get(r["symbol"], "CROSSED")],
                isAutoAddMargin="false",
                maxNotionalValue="50000",
            )
        return rows

    async def symbol_config(q: dict[str, str]) -> Any:
        return [
            {
                "symbol": s,
                "marginType": b.margin_type.get(s, "CROSSED"),
                "isAutoAddMargin": False,
                "leverage": b.leverage.get(s, 20),
                "maxNotionalValue": "50000",
            }
            for s in b.symbols
            if q.get("symbol", s) == s
        ]

    async def new_algo(q: dict[str, str]) -> Any:
        if q.get("algoType") != "CONDITIONAL":
            raise ApiError(-1102, "algoType must be CONDITIONAL")
        return b.order_json(b.new_order(q, srv.now_ms(), algo=True))

    async def get_algo(q: dict[str, str]) -> Any:
        return b.order_json(b.find(q, algo=True))

    async def cancel_algo(q: dict[str, str]) -> Any:
        order = b.cancel(b.find(q, algo=True))
        return {
            "algoId": order.order_id,
            "clientAlgoId": order.client_id,
            "code": "200",
            "msg": "success",
        }

    async def open_algos(q: dict[str, str]) -> Any:
        return [b.order_json(o) for o in b.open_orders(q.get("symbol"), algo=True)]

    async def cancel_algos(q: dict[str, str]) -> Any:
        for o in b.open_orders(q.get("symbol"), algo=True):
            b.cancel(o)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    async def countdown(q: dict[str, str]) -> Any:
        b.countdowns[q["symbol"]] = int(q["countdownTime"])
        return {"symbol": q["symbol"], "countdownTime": q["countdownTime"]}

    async def income(q: dict[str, str]) -> Any:
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        rows = [
            r
            for r in b.income
            if start <= r["time"] <= end
            and q.get("incomeType", r["incomeType"]) == r["incomeType"]
            and q.get("symbol", r["symbol"]) == r["symbol"]
        ]
        return rows[: min(int(q.get("limit", 100)), 1000)]

    async def listen_key(_: dict[str, str]) -> Any:
        key = next(iter(srv.listen_keys), None) or secrets.token_hex(16)
        srv.listen_keys.add(key)
        return {"listenKey": key}

    async def keepalive(_: dict[str, str]) -> Any:
        if not srv.listen_keys:
            raise ApiError(-1125, "This listenKey does not exist.")
        return {"listenKey": next(iter(srv.listen_keys))}

    return {
        ("GET", "/fapi/v3/balance"): (balance, "SIGNED"),
        ("POST", "/fapi/v1/leverage"): (leverage, "SIGNED"),
        ("POST", "/fapi/v1/marginType"): (margin_type, "SIGNED"),
        ("GET", "/fapi/v1/positionSide/dual"): (dual, "SIGNED"),
        ("GET", "/fapi/v3/positionRisk"): (positions, "SIGNED"),
        ("GET", "/fapi/v2/positionRisk"): (positions_v2, "SIGNED"),
        ("GET", "/fapi/v3/account"): (
            _bind(srv, lambda s, _q: market.usdm_account(s, 3)),
            "SIGNED",
        ),
        ("GET", "/fapi/v2/account"): (
            _bind(srv, lambda s, _q: market.usdm_account(s, 2)),
            "SIGNED",
        ),
        ("GET", "/fapi/v1/leverageBracket"): (_bind(srv, market.leverage_brackets), "SIGNED"),
        ("GET", "/fapi/v1/premiumIndex"): (_bind(srv, market.premium_index), "NONE"),
        ("GET", "/fapi/v1/fundingRate"): (_bind(srv, history.funding_rate), "NONE"),
        ("GET", "/fapi/v1/markPriceKlines"): (_bind(srv, history.mark_price_klines), "NONE"),
        ("GET", "/fapi/v2/ticker/price"): (_bind(srv, market.ticker_price), "NONE"),
        ("GET", "/fapi/v1/symbolConfig"): (symbol_config, "SIGNED"),
        ("POST", "/fapi/v1/algoOrder"): (new_algo, "SIGNED"),
        ("GET", "/fapi/v1/algoOrder"): (get_algo, "SIGNED"),
        ("DELETE", "/fapi/v1/algoOrder"): (cancel_algo, "SIGNED"),
        ("GET", "/fapi/v1/openAlgoOrders"): (open_algos, "SIGNED"),
        ("DELETE", "/fapi/v1/algoOpenOrders"): (cancel_algos, "SIGNED"),
        ("POST", "/fapi/v1/countdownCancelAll"): (countdown, "SIGNED"),
        ("GET", "/fapi/v1/income"): (income, "SIGNED"),
        ("POST", "/fapi/v1/listenKey"): (listen_key, "KEY"),
        ("PUT", "/fapi/v1/listenKey"): (keepalive, "KEY"),
    }


def _bind(
    srv: FakeBinance, fn: Callable[[FakeBinance, dict[str, str]], Any]
) -> Callable[[dict[str, str]], Awaitable[Any]]:
    """A route handler that answers ``fn(srv, params)``."""

    async def handler(q: dict[str, str]) -> Any:
        return fn(srv, q)

    return handler


def decimal(text: str) -> Decimal:
    """Parse a decimal parameter."""
    return Decimal(text)

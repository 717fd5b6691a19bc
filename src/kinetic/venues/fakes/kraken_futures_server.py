"""A fake Kraken Futures server (REST v3 + charts subset) on 127.0.0.1, for tests.

Verifies ``APIKey``/``Authent`` (hash over postData + Nonce + endpoint path without
``/derivatives``; postData is the body, or the query string when the body is empty; the
``Nonce`` header is optional), rejects a repeated or lower nonce with ``nonceBelowThreshold``,
keeps orders, fills and positions, fills market orders at the price set by
``set_price``. Faults as in ``FakeServerBase.fail``: ``rate_limit``, ``http_500``,
``unavailable``, ``disconnect_after_accept``, ``timeout_after_accept``. The private WS v1
feeds live in ``kraken_futures_ws``, the account log (funding) in ``kraken_futures_account``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from kinetic.clock import Clock
from kinetic.venues.fakes import kraken_futures_history as history
from kinetic.venues.fakes import kraken_futures_shapes as shapes
from kinetic.venues.fakes import kraken_tape
from kinetic.venues.fakes.control import KrakenFuturesControl, add_control_routes
from kinetic.venues.fakes.kraken_futures_account import ACCOUNT_LOG, AccountLog, iso_time
from kinetic.venues.fakes.kraken_futures_ws import FakeKrakenFuturesWs

D = Decimal
API = "/derivatives/api/v3"


class FakeKrakenFutures(FakeKrakenFuturesWs):
    """Kraken Futures REST on one port."""

    def __init__(self, api_key: str, api_secret: str, clock: Clock | None = None) -> None:
        super().__init__(api_key, api_secret, clock)
        self.instruments = [
            {
                "symbol": "PF_XBTUSD",
                "type": "flexible_futures",
                "tradeable": True,
                "tickSize": 0.5,
                "contractSize": 1,
                "contractValueTradePrecision": 4,
            },
            {
                "symbol": "PI_XBTUSD",
                "type": "futures_inverse",
                "tradeable": True,
                "tickSize": 0.5,
                "contractSize": 1,
                "contractValueTradePrecision": 0,
            },
            _perp("PF_ETHUSD", 0.1, 3),
            _perp("PF_SOLUSD", 0.01, 2),
            _perp("PF_BNBUSD", 0.01, 2),
            _perp("PF_XRPUSD", 0.0001, 0),
        ]
        self.cash = D(100000)
        self.prices: dict[str, Decimal] = {}
        self.positions: dict[str, Decimal] = {}
        self.leverage: dict[str, str] = {}
        self.candles: dict[str, list[dict[str, Any]]] = {}
        self.mark_candles: dict[str, list[dict[str, Any]]] = {}
        self.funding_rates: dict[str, list[dict[str, Any]]] = {}  # historical-funding-rates
        self.dead_man_timeout = 0
        self.last_nonce = 0
        self.last_authent = ""
        self.sendorder_calls = 0
        self._ids = itertools.count(1)
        self.account_log = AccountLog(self._ids)  # shares the id sequence
        self.app.router.add_route("*", API + "/{endpoint:.+}", self._handle)
        self.app.router.add_get(ACCOUNT_LOG, self._account_log)
        self.app.router.add_get("/api/charts/v1/{tick_type}/{symbol}/{res}", self._charts)
        add_control_routes(self.app, KrakenFuturesControl(self))

    def fund(self, cash: Decimal) -> None:
        """Fund the flex account with ``cash`` USD."""
        self.cash = D(cash)

    def add_funding(self, symbol: str, amount: Decimal, ts_ms: int) -> dict[str, Any]:
        """Book a funding payment on ``PF_`` contract ``symbol`` (signed USD): the cash moves."""
        old = self.cash
        self.cash += D(amount)
        return self.account_log.add_funding(
            symbol, float(amount), float(old), float(self.cash), ts_ms
        )

    async def _account_log(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/history/v3/account-log``: entries by time (``since``/``before``, ms)."""
        err = self._check_auth(request, ACCOUNT_LOG, request.query_string)
        if err:
            return web.json_response({"result": "error", "error": err}, status=401)
        self.calls["account-log"] += 1
        fault = self.take_fault("account-log")
        if fault is not None:
            return _fault_response(fault)
        logs = self.account_log.query(request.query)
        return web.json_response({"accountUid": "fake-account", "logs": logs})

    def instrument(self, symbol: str) -> dict[str, Any]:
        """Return the instrument ``symbol`` (raises ``KeyError`` if unknown)."""
        return next(i for i in self.instruments if i["symbol"] == symbol)

    async def tape_tick(self) -> None:
        """Follow the sandbox's candle tape (prices)."""
        await kraken_tape.futures_tick(self)

    def set_price(self, symbol: str, price: Decimal | str) -> None:
        """Set the last price of a ``PF_`` symbol and fill resting limits it crosses."""
        self.prices[symbol] = D(price)
        for oid, o in list(self.orders.items()):
            if o["status"] == "open" and o["symbol"] == symbol and self._crosses(o, D(price)):
                self._fill(oid, D(price))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        # the signed postData is the body, or (a GET, or a POST with an empty body) the
        # query string: the venue takes parameters from either
        body = await request.text()
        data = body or request.query_string
        public = endpoint in ("instruments", "tickers", "historical-funding-rates")
        if not public:
            err = self._check_auth(request, endpoint, data)
            if err:
                return web.json_response({"result": "error", "error": err})
        self.calls[endpoint] += 1
        fault = self.take_fault(endpoint)
        if fault in ("disconnect_after_accept", "timeout_after_accept"):
            self.pending_after[endpoint] = fault
        elif fault is not None:
            return _fault_response(fault)
        params = _params(request.query_string, body)
        name = "ep_" + endpoint.replace("/", "_").replace("-", "_")
        # a method-specific handler first (GET and PUT of leveragepreferences differ)
        handler = getattr(self, f"{name}_{request.method.lower()}", None) or getattr(
            self, name, None
        )
        if handler is None:
            return web.json_response({"result": "error", "error": "notFound"}, status=404)
        answer = {"result": "success", "serverTime": iso_time(self.clock_time()), **handler(params)}
        return await self._after_accept(endpoint, request, web.json_response(answer))

    def _check_auth(self, request: web.Request, endpoint: str, data: str) -> str | None:
        self.last_authent = request.headers.get("Authent", "")
        if request.headers.get("APIKey") != self.api_key:
            return "authenticationError"
        nonce = request.headers.get("Nonce", "")  # optional: signed as "" when absent
        path = endpoint if endpoint.startswith("/") else "/api/v3/" + endpoint
        msg = (data + nonce + path).encode()
        mac = hmac.new(
            base64.b64decode(self.api_secret), hashlib.sha256(msg).digest(), hashlib.sha512
        )
        if self.last_authent != base64.b64encode(mac.digest()).decode():
            return "authenticationError"
        if not nonce:
            return None
        if not nonce.isdigit() or int(nonce) <= self.last_nonce:
            return "nonceBelowThreshold"
        self.last_nonce = int(nonce)
        return None

    # ------------------------------------------------------------------ public

    def ep_instruments(self, _p: dict[str, str]) -> dict[str, Any]:
        return {"instruments": self.instruments}

    def ep_tickers(self, _p: dict[str, str]) -> dict[str, Any]:
        return {
            "tickers": [
                {"symbol": s, "last": float(p), "markPrice": float(p)}
                for s, p in self.prices.items()
            ]
        }

    async def _charts(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        if info["tick_type"] not in ("trade", "mark", "spot"):
            return web.Response(status=404, text="not found")
        self.calls["charts"] += 1
        queue = self.faults.get("charts")  # only faults queued for the charts, not for "*"
        if queue:
            fault = queue.popleft()
            return _fault_response(fault)
        answer = history.charts(
            self, info["tick_type"], info["symbol"], info["res"], dict(request.query)
        )
        return web.json_response(answer)

    def ep_historical_funding_rates(self, p: dict[str, str]) -> dict[str, Any]:
        return history.historical_funding_rates(self, p)

    def add_funding_rate(self, symbol: str, ts_ms: int, relative: float, price: float) -> None:
        """Add a settled rate to ``historical-funding-rates`` (keep them in order)."""
        row = {"timestamp": history.iso(ts_ms), "fundingRate": relative * price,
               "relativeFundingRate": relative}  # fmt: skip
        self.funding_rates.setdefault(symbol, []).append(row)

    # ------------------------------------------------------------------ private

    def ep_accounts(self, _p: dict[str, str]) -> dict[str, Any]:
        return {
            "accounts": {
                "flex": {
                    "type": "multiCollateralMarginAccount",
                    "availableMargin": float(self.cash * D("0.9")),
                    "portfolioValue": float(self.cash),
                    "currencies": {"USD": {"quantity": float(self.cash)}},
                }
            }
        }

    def ep_leveragepreferences(self, p: dict[str, str]) -> dict[str, Any]:
        """PUT ``symbol`` with ``maxLeverage`` (isolated margin) or without (cross)."""
        if not any(i["symbol"] == p.get("symbol") for i in self.instruments):
            return {"result": "error", "error": "invalidArgument"}
        if p.get("maxLeverage"):
            self.leverage[p["symbol"]] = p["maxLeverage"]
        else:
            self.leverage.pop(p["symbol"], None)  # back to cross margin
        return {}

    def ep_leveragepreferences_get(self, p: dict[str, str]) -> dict[str, Any]:
        """GET the symbols set to isolated margin with their max leverage (one or all)."""
        return {
            "leveragePreferences": [
                {"symbol": s, "maxLeverage": float(v)}
                for s, v in self.leverage.items()
                if p.get("symbol", s) == s
            ]
        }

    def ep_cancelallordersafter(self, p: dict[str, str]) -> dict[str, Any]:
        self.dead_man_timeout = int(p["timeout"])
        return {"status": {"currentTime": "", "triggerTime": ""}}

    def ep_sendorder(self, p: dict[str, str]) -> dict[str, Any]:
        self.sendorder_calls += 1
        symbol, cid = p["symbol"], p.get("cliOrdId", "")
        if not any(i["symbol"] == symbol for i in self.instruments):
            return {"sendStatus": {"status": "marketUnavailable"}}  # hypothetical but harmless
        if cid and any(
            o["cliOrdId"] == cid and o["status"] == "open" for o in self.orders.values()
        ):
            return {"sendStatus": {"status": "clientOrderIdAlreadyExist"}}
        oid = f"fake-{next(self._ids):06d}"
        self.orders[oid] = {
            "order_id": oid,
            "cliOrdId": cid,
            "symbol": symbol,
            "side": p["side"],
            "orderType": p["orderType"],
            "size": D(p["size"]),
            "filled": D(0),
            "limitPrice": p.get("limitPrice"),
            "stopPrice": p.get("stopPrice"),
            "status": "open",
            "reduceOnly": p.get("reduceOnly") == "true",
            "time": iso_time(self.clock_time()),
        }
        events: list[dict[str, Any]] = [shapes.place_event(self.orders[oid])]
        price = self.prices.get(symbol)
        if p["orderType"] == "mkt" or (price and self._crosses(self.orders[oid], price)):
            assert price is not None
            self._fill(oid, price)
            fill = self.fills[-1]
            events.append(
                shapes.execution_event(self.orders[oid], fill["fill_id"], D(fill["size"]), price)
            )
        return {"sendStatus": {"order_id": oid, "status": "placed", "orderEvents": events}}

    def ep_cancelorder(self, p: dict[str, str]) -> dict[str, Any]:
        hits = [
            o
            for o in self.orders.values()
            if o["status"] == "open"
            and (o["cliOrdId"] == p.get("cliOrdId") or o["order_id"] == p.get("order_id"))
        ]
        for o in hits:
            o["status"] = "cancelled"
        if not hits:
            return {"cancelStatus": {"status": "notFound"}}
        return {
            "cancelStatus": {
                "status": "cancelled",
                "order_id": hits[0]["order_id"],
                "cliOrdId": hits[0]["cliOrdId"] or None,
                "receivedTime": iso_time(self.clock_time()),
                "orderEvents": [shapes.cancel_event(o) for o in hits],
            }
        }

    def ep_cancelallorders(self, p: dict[str, str]) -> dict[str, Any]:
        hits = [
            o
            for o in self.orders.values()
            if o["status"] == "open" and p.get("symbol") in (None, o["symbol"])
        ]
        for o in hits:
            o["status"] = "cancelled"
        return {
            "cancelStatus": {
                "status": "cancelled" if hits else "noOrdersToCancel",
                "cancelledOrders": [{"order_id": o["order_id"]} for o in hits],
            }
        }

    def ep_openorders(self, _p: dict[str, str]) -> dict[str, Any]:
        return {
            "openOrders": [
                {
                    "order_id": o["order_id"],
                    "cliOrdId": o["cliOrdId"],
                    "symbol": o["symbol"],
                    "side": o["side"],
                    "orderType": "stop" if o["orderType"] == "stp" else o["orderType"],
                    "limitPrice": o["limitPrice"],
                    "stopPrice": o["stopPrice"],
                    "unfilledSize": str(o["size"] - o["filled"]),
                    "filledSize": str(o["filled"]),
                    "reduceOnly": o["reduceOnly"],
                    "receivedTime": o["time"],
                    "status": "untouched",
                }
                for o in self.orders.values()
                if o["status"] == "open"
            ]
        }

    def ep_orders_status(self, p: dict[str, str]) -> dict[str, Any]:
        """The orders named by ``orderIds`` and/or ``cliOrdIds`` (each repeatable)."""
        ids = set(filter(None, p.get("orderIds", "").split(",")))
        cids = set(filter(None, p.get("cliOrdIds", "").split(",")))
        return {
            "orders": [
                shapes.status_entry(o)
                for o in self.orders.values()
                if o["order_id"] in ids or (o["cliOrdId"] and o["cliOrdId"] in cids)
            ]
        }

    def ep_fills(self, _p: dict[str, str]) -> dict[str, Any]:
        return {"fills": list(self.fills)}

    def ep_openpositions(self, _p: dict[str, str]) -> dict[str, Any]:
        return {
            "openPositions": [
                {
                    "side": "long" if q > 0 else "short",
                    "symbol": s,
                    "size": str(abs(q)),
                    "price": str(self.prices.get(s, D(0))),
                    "unrealizedFunding": "0",
                }
                for s, q in self.positions.items()
                if q != 0
            ]
        }

    # ------------------------------------------------------------------ matching

    @staticmethod
    def _crosses(o: dict[str, Any], price: Decimal) -> bool:
        if o["orderType"] == "stp" and o["stopPrice"] is not None:
            trigger = D(o["stopPrice"])
            return price >= trigger if o["side"] == "buy" else price <= trigger
        if o["orderType"] != "lmt":
            return False
        limit = D(o["limitPrice"])
        return price <= limit if o["side"] == "buy" else price >= limit

    def _fill(self, oid: str, price: Decimal) -> None:
        o = self.orders[oid]
        qty = o["size"] - o["filled"]
        o["filled"], o["status"] = o["size"], "filled"
        sign = 1 if o["side"] == "buy" else -1
        self.positions[o["symbol"]] = self.positions.get(o["symbol"], D(0)) + sign * qty
        self.fills.append(
            {
                "fill_id": f"F{next(self._ids):06d}",
                "symbol": o["symbol"],
                "side": o["side"],
                "order_id": oid,
                "cliOrdId": o["cliOrdId"],
                "size": str(qty),
                "price": str(price),
                "fillTime": iso_time(self.clock_time()),
                "fillType": "taker" if o["orderType"] == "mkt" else "maker",
            }
        )
        self.account_log.add(
            round(self.clock_time() * 1000),
            "futures trade",
            o["symbol"],
            old_balance=float(self.positions[o["symbol"]] - sign * qty),
            new_balance=float(self.positions[o["symbol"]]),
            trade_price=float(price),
            execution=self.fills[-1]["fill_id"],
        )


def _perp(symbol: str, tick: float, precision: int) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "type": "flexible_futures",
        "tradeable": True,
        "tickSize": tick,
        "contractSize": 1,
        "contractValueTradePrecision": precision,
    }


def _params(query: str, body: str) -> dict[str, str]:
    """Query and body parameters (the body wins); repeated list keys joined by commas."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True) + parse_qsl(
        body, keep_blank_values=True
    ):
        if key in ("orderIds", "cliOrdIds") and out.get(key):
            out[key] += "," + value
        else:
            out[key] = value
    return out


def _fault_response(fault: str) -> web.Response:
    if fault == "http_500":
        return web.Response(status=500, text="internal")
    errors = {"rate_limit": "apiLimitExceeded", "unavailable": "Unavailable"}
    return web.json_response({"result": "error", "error": errors[fault]})

"""A fake Kraken Spot server (REST + WS v2 subset) on 127.0.0.1, for integration tests.

It verifies ``API-Key``/``API-Sign`` with its own HMAC code, rejects non-increasing
nonces with ``EAPI:Invalid nonce``, keeps orders, balances and trades, and fills
market orders (and crossing limits) at the price a test sets with ``set_price``.

Fault injection: ``fail(method, fault)`` queues one fault for the next call of a
private/public method: ``rate_limit``, ``http_500``, ``invalid_nonce``,
``unavailable``, ``disconnect_after_accept`` (process, then drop the connection),
``timeout_after_accept`` (process, then hang until the server stops). WS: ``drop_ws()``
closes every socket; ``silent = True`` stops answering pings and pushing data.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from kinetic.clock import Clock
from kinetic.venues.fakes import kraken_shapes, kraken_tape
from kinetic.venues.fakes.control import KrakenSpotControl, add_control_routes
from kinetic.venues.fakes.kraken_common import FakeServerBase

D = Decimal


def _pair_entry(
    altname: str, base: str, quote: str, wsname: str, decimals: int = 1, ordermin: str = "0.0001"
) -> dict[str, Any]:
    return {
        "altname": altname,
        "wsname": wsname,
        "base": base,
        "quote": quote,
        "pair_decimals": decimals,
        "lot_decimals": 8,
        "cost_decimals": 5,
        "tick_size": str(D(1).scaleb(-decimals)),
        "ordermin": ordermin,
        "costmin": "10",
        "status": "online",
    }


DEFAULT_PAIRS = {
    "XBTUSDT": _pair_entry("XBTUSDT", "XXBT", "USDT", "XBT/USDT"),
    "XETHZUSD": _pair_entry("ETHUSD", "XETH", "ZUSD", "ETH/USD"),
    "ETHUSDT": _pair_entry("ETHUSDT", "XETH", "USDT", "ETH/USDT", 2, "0.002"),
    "SOLUSDT": _pair_entry("SOLUSDT", "SOL", "USDT", "SOL/USDT", 2, "0.02"),
    "BNBUSDT": _pair_entry("BNBUSDT", "BNB", "USDT", "BNB/USDT", 2, "0.005"),
    "XRPUSDT": _pair_entry("XRPUSDT", "XXRP", "USDT", "XRP/USDT", 5, "5"),
}


class FakeKrakenSpot(FakeServerBase):
    """Kraken Spot REST (``/0/...``) and WS v2 (``/v2``, ``/v2-auth``) on one port."""

    def __init__(self, api_key: str, api_secret: str, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.api_key, self.api_secret = api_key, api_secret
        self.pairs: dict[str, dict[str, Any]] = json.loads(json.dumps(DEFAULT_PAIRS))
        self.balances: dict[str, Decimal] = {"USDT": D(1_000_000), "XXBT": D(10), "ZUSD": D(0)}
        self.prices: dict[str, Decimal] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: dict[str, dict[str, Any]] = {}
        self.ohlc: dict[str, list[list[Any]]] = defaultdict(list)
        self.last_nonce = 0
        self.last_sign = ""
        self.dead_man_timeout = 0
        self.add_order_calls = 0
        self.validate_calls = 0  # AddOrder with validate=true (validate_only), never placed
        self.ws_tokens: set[str] = set()
        self._ids = itertools.count(1)
        self.app.router.add_get("/0/public/{method}", self._public)
        self.app.router.add_post("/0/private/{method}", self._private)
        self.app.router.add_get("/v2", self._ws_public)
        self.app.router.add_get("/v2-auth", self._ws_private)
        self.ws_subs: dict[web.WebSocketResponse, set[str]] = {}
        self.subscribe_count = 0
        self.ws_token_uses: list[str] = []
        self.exec_cursor = 0
        self.ohlc_subs: dict[web.WebSocketResponse, tuple[set[str], int]] = {}
        self.ohlc_pushed: dict[tuple[int, str, int], int] = {}
        add_control_routes(self.app, KrakenSpotControl(self))

    def fund(self, cash: Decimal) -> None:
        """Fund the test account with ``cash`` USDT (and as much ZUSD)."""
        self.balances = {"USDT": D(cash), "ZUSD": D(cash)}

    # ------------------------------------------------------------------ test controls

    def set_price(self, altname: str, price: Decimal | str) -> None:
        """Set the market price of a pair and fill resting limits that it crosses."""
        key = self._key(altname)
        self.prices[key] = D(price)
        alt = self.pairs[key]["altname"] if key in self.pairs else altname
        for txid, order in list(self.orders.items()):
            same_pair = order["descr"]["pair"] == alt
            if order["status"] == "open" and same_pair and self._crosses(order, D(price)):
                self._fill(txid, D(price))

    # ------------------------------------------------------------------ REST

    async def _public(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = dict(request.query)
        fault = await self._fault(method, request)
        if fault is not None:
            return fault
        handler = getattr(self, f"pub_{method}", None)
        if handler is None:
            return _err("EGeneral:Unknown method")
        return web.json_response(handler(params))

    async def _private(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        body = await request.text()
        auth = self._check_auth(request, body)
        if auth is not None:
            return _err(auth)
        params = dict(parse_qsl(body, keep_blank_values=True))
        self.calls[method] += 1
        fault = await self._fault(method, request)
        if fault is not None:
            return fault
        handler = getattr(self, f"priv_{method}", None)
        if handler is None:
            return _err("EGeneral:Unknown method")
        try:
            result = handler(params)
        except KrakenError as exc:
            return _err(str(exc))
        resp = web.json_response({"error": [], "result": result})
        return await self._after_accept(method, request, resp)

    def _check_auth(self, request: web.Request, body: str) -> str | None:
        self.last_sign = request.headers.get("API-Sign", "")
        if request.headers.get("API-Key") != self.api_key:
            return "EAPI:Invalid key"
        params = dict(parse_qsl(body, keep_blank_values=True))
        nonce = params.get("nonce", "")
        digest = hashlib.sha256((nonce + body).encode()).digest()
        mac = hmac.new(
            base64.b64decode(self.api_secret), request.path.encode() + digest, hashlib.sha512
        )
        if request.headers.get("API-Sign") != base64.b64encode(mac.digest()).decode():
            return "EAPI:Invalid signature"
        if not nonce.isdigit() or int(nonce) <= self.last_nonce:
            return "EAPI:Invalid nonce"
        self.last_nonce = int(nonce)
        return None

    async def _fault(self, method: str, request: web.Request) -> web.StreamResponse | None:
        name = self.take_fault(method)
        if name is None or name.endswith("_after_accept"):
            if name is not None:
                self.pending_after[method] = name
            return None
        table = {
            "rate_limit": "EAPI:Rate limit exceeded",
            "invalid_nonce": "EAPI:Invalid nonce",
            "unavailable": "EService:Unavailable",
            "lockout": "EGeneral:Temporary lockout",
        }
        if name == "http_500":
            return web.Response(status=500, text="internal")
        if name == "http_429":
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        if name == "malformed":
            return web.Response(status=200, text="<html>oops</html>")
        return _err(table[name])

    # ------------------------------------------------------------------ public methods

    def pub_Time(self, _p: dict[str, str]) -> dict[str, Any]:
        return {"error": [], "result": {"unixtime": int(self.clock_time()), "rfc1123": ""}}

    def pub_AssetPairs(self, _p: dict[str, str]) -> dict[str, Any]:
        return {"error": [], "result": self.pairs}

    def pub_Assets(self, p: dict[str, str]) -> dict[str, Any]:
        return {"error": [], "result": kraken_shapes.assets(self.pairs, p.get("asset"))}

    def pub_Ticker(self, p: dict[str, str]) -> dict[str, Any]:
        keys = [self._key(n) for n in p["pair"].split(",")] if p.get("pair") else list(self.pairs)
        if any(k not in self.pairs for k in keys):
            return {"error": ["EQuery:Unknown asset pair"]}
        result = {k: kraken_shapes.ticker_entry(self.prices.get(k, D(0))) for k in keys}
        return {"error": [], "result": result}

    def pub_OHLC(self, p: dict[str, str]) -> dict[str, Any]:
        key = self._key(p.get("pair", ""))
        if key not in self.pairs:
            return {"error": ["EQuery:Unknown asset pair"]}
        if self.tape is not None:
            return {"error": [], "result": kraken_tape.spot_ohlc(self, key, p)}
        rows = self.ohlc[key]
        since = int(p.get("since", "0"))
        picked = [r for r in rows[:-1] if r[0] > since] + rows[-1:]
        last = rows[-1][0] if rows else 0
        return {"error": [], "result": {key: picked, "last": last}}

    # ------------------------------------------------------------------ private methods

    def priv_BalanceEx(self, _p: dict[str, str]) -> dict[str, Any]:
        held: dict[str, Decimal] = defaultdict(Decimal)
        for o in self.orders.values():
            if o["status"] == "open" and o["descr"]["type"] == "buy":
                held[self.pairs[self._key(o["descr"]["pair"])]["quote"]] += o["_cost"]
        return {
            a: {"balance": str(v), "hold_trade": str(held[a])} for a, v in self.balances.items()
        }

    def priv_GetWebSocketsToken(self, _p: dict[str, str]) -> dict[str, Any]:
        token = f"tok-{next(self._ids)}"
        self.ws_tokens.add(token)
        return {"token": token, "expires": 900}

    def priv_CancelAllOrdersAfter(self, p: dict[str, str]) -> dict[str, Any]:
        self.dead_man_timeout = int(p["timeout"])
        return {"currentTime": "", "triggerTime": ""}

    def priv_AddOrder(self, p: dict[str, str]) -> dict[str, Any]:
        validate = p.get("validate") in ("true", "1")  # checked, not placed: no txid
        if validate:
            self.validate_calls += 1
        else:
            self.add_order_calls += 1
        key, vol, price = self._validate_add(p)
        pair, cid = self.pairs[key], p.get("cl_ord_id", "")
        text = kraken_shapes.describe(p, vol, pair["altname"])
        if validate:
            return {"descr": {"order": text}}
        txid = f"O{next(self._ids):05d}-FAKE-{key}"
        self.orders[txid] = {
            "cl_ord_id": cid,
            "userref": int(p["userref"]) if p.get("userref") else 0,
            "status": "open",
            "opentm": self.clock_time(),
            "vol": str(vol),
            "vol_exec": "0",
            "price": "0",
            "cost": "0",
            "fee": "0",
            "oflags": "",
            "descr": {
                "pair": pair["altname"],
                "type": p["type"],
                "ordertype": p["ordertype"],
                "price": p.get("price", "0"),
                "price2": p.get("price2", "0"),
                "leverage": "none",
                "order": text,
                "close": "",
            },
            "_cost": vol * price,
        }
        self.executions.append(self._exec_entry(txid, "new"))
        market = self.prices.get(key)
        if p["ordertype"] == "market" or (market and self._crosses(self.orders[txid], market)):
            self._fill(txid, market or price)
        return {"descr": {"order": text}, "txid": [txid]}

    def _validate_add(self, p: dict[str, str]) -> tuple[str, Decimal, Decimal]:
        key = self._key(p.get("pair", ""))
        if key not in self.pairs:
            raise KrakenError("EQuery:Unknown asset pair")
        pair = self.pairs[key]
        vol = D(p["volume"])
        if -vol.as_tuple().exponent > pair["lot_decimals"]:  # type: ignore[operator]
            raise KrakenError("EGeneral:Invalid arguments:volume")
        if vol < D(pair["ordermin"]):
            raise KrakenError("EOrder:Order minimum not met")
        price = D(p["price"]) if "price" in p else self.prices.get(key, D(0))
        if vol * price < D(pair["costmin"]):
            raise KrakenError("EOrder:Cost minimum not met")
        cid = p.get("cl_ord_id", "")
        if cid and any(
            o["cl_ord_id"] == cid and o["status"] == "open" for o in self.orders.values()
        ):
            raise KrakenError("EOrder:Duplicate order")
        if p["type"] == "buy" and vol * price > self.balances.get(pair["quote"], D(0)):
            raise KrakenError("EOrder:Insufficient funds")
        return key, vol, price

    def priv_CancelOrder(self, p: dict[str, str]) -> dict[str, Any]:
        """Cancel by ``txid`` (an order id or a userref) or by ``cl_ord_id``."""
        ref, cid = p.get("txid", ""), p.get("cl_ord_id", "")
        if not ref and not cid:
            raise KrakenError("EGeneral:Invalid arguments:txid")
        hits = [
            t
            for t, o in self.orders.items()
            if o["status"] == "open"
            and ((ref and ref in (t, str(o["userref"]))) or (cid and o["cl_ord_id"] == cid))
        ]
        if not hits:
            raise KrakenError("EOrder:Unknown order")
        for txid in hits:
            self.orders[txid]["status"] = "canceled"
        return {"count": len(hits)}

    def priv_CancelAll(self, _p: dict[str, str]) -> dict[str, Any]:
        n = 0
        for o in self.orders.values():
            if o["status"] == "open":
                o["status"], n = "canceled", n + 1
        return {"count": n}

    def priv_OpenOrders(self, p: dict[str, str]) -> dict[str, Any]:
        return {"open": self._select("open", p.get("cl_ord_id"), p.get("userref"))}

    def priv_ClosedOrders(self, p: dict[str, str]) -> dict[str, Any]:
        picked = self._select(None, p.get("cl_ord_id"), p.get("userref"))
        closed = {t: o for t, o in picked.items() if o["status"] != "open"}
        return {"closed": closed, "count": len(closed)}

    def priv_QueryOrders(self, p: dict[str, str]) -> dict[str, Any]:
        ids = [t for t in p.get("txid", "").split(",") if t]
        if not ids and not p.get("userref"):
            raise KrakenError("EGeneral:Invalid arguments:txid")
        picked = self._select(None, None, p.get("userref"))
        return {t: o for t, o in picked.items() if not ids or t in ids}

    def priv_TradesHistory(self, p: dict[str, str]) -> dict[str, Any]:
        start = float(p.get("start", "0"))
        rows = sorted(
            ((t, tr) for t, tr in self.trades.items() if tr["time"] > start),
            key=lambda x: x[1]["time"],
            reverse=True,
        )
        ofs = int(p.get("ofs", "0"))
        return {"trades": dict(rows[ofs : ofs + 50]), "count": len(rows)}

    # ------------------------------------------------------------------ matching

    def _select(
        self, status: str | None, cid: str | None, userref: str | None = None
    ) -> dict[str, Any]:
        return {
            t: _public_order(o)
            for t, o in self.orders.items()
            if (status is None or o["status"] == status)
            and (cid is None or o["cl_ord_id"] == cid)
            and (userref is None or str(o["userref"]) == userref)
        }

    @staticmethod
    def _crosses(order: dict[str, Any], price: Decimal) -> bool:
        d = order["descr"]
        if d["ordertype"] == "stop-loss":
            trigger = D(d["price"])
            return price >= trigger if d["type"] == "buy" else price <= trigger
        if d["ordertype"] != "limit":
            return False
        limit = D(d["price"])
        return price <= limit if d["type"] == "buy" else price >= limit

    def _fill(self, txid: str, price: Decimal) -> None:
        order = self.orders[txid]
        vol = D(order["vol"])
        key = self._key(order["descr"]["pair"])
        pair = self.pairs[key]
        sign = 1 if order["descr"]["type"] == "buy" else -1
        self.balances[pair["base"]] = self.balances.get(pair["base"], D(0)) + sign * vol
        self.balances[pair["quote"]] = self.balances.get(pair["quote"], D(0)) - sign * vol * price
        order.update(
            status="closed",
            vol_exec=str(vol),
            price=str(price),
            cost=str(vol * price),
            closetm=self.clock_time(),
        )
        tid = f"T{next(self._ids):05d}-FAKE"
        self.trades[tid] = {
            "ordertxid": txid,
            "pair": key,
            "time": self.clock_time(),
            "type": order["descr"]["type"],
            "ordertype": order["descr"]["ordertype"],
            "price": str(price),
            "cost": str(vol * price),
            "fee": "0",
            "vol": str(vol),
            "maker": order["descr"]["ordertype"] == "limit",
        }
        self._record_execution(tid, txid, order, pair, vol, price)

    def _record_execution(
        self,
        tid: str,
        txid: str,
        order: dict[str, Any],
        pair: dict[str, Any],
        vol: Decimal,
        price: Decimal,
    ) -> None:
        self.executions.append(
            {
                "exec_type": "trade",
                "exec_id": tid,
                "order_id": txid,
                "cl_ord_id": order["cl_ord_id"],
                "symbol": _v2_name(pair),
                "side": order["descr"]["type"],
                "order_type": order["descr"]["ordertype"],
                "order_qty": float(order["vol"]),
                "order_status": "filled",
                "cum_qty": float(vol),
                "avg_price": float(price),
                "last_qty": float(vol),
                "last_price": float(price),
                "liquidity_ind": "m" if order["descr"]["ordertype"] == "limit" else "t",
                "fees": [{"asset": _v2_name(pair).split("/")[1], "qty": 0.0}],
                "timestamp": _rfc3339(self.clock_time()),
            }
        )

    def pair_key(self, name: str) -> str:
        """Return the pair key for a key, altname, WS v1 or WS v2 name."""
        return self._key(name)

    def _key(self, name: str) -> str:
        for key, pair in self.pairs.items():
            if name in (key, pair["altname"], pair["wsname"], _v2_name(pair)):
                return key
        return name

    async def tape_tick(self) -> None:
        """Follow the sandbox's candle tape (prices, OHLC pushes)."""
        await kraken_tape.spot_tick(self)

    # ------------------------------------------------------------------ WS v2

    async def _ws_public(self, request: web.Request) -> web.StreamResponse:
        return await self._ws_session(request, private=False)

    async def _ws_private(self, request: web.Request) -> web.StreamResponse:
        return await self._ws_session(request, private=True)

    async def _ws_session(self, request: web.Request, *, private: bool) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_connects += 1
        self.ws_subs[ws] = set()
        self.sockets.add(ws)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT or self.silent or ws in self.muted:
                    continue
                await self._ws_request(ws, json.loads(msg.data), private)
        finally:
            self.ws_subs.pop(ws, None)
            self.ohlc_subs.pop(ws, None)
            self.sockets.discard(ws)
        return ws

    async def _ws_request(
        self, ws: web.WebSocketResponse, req: dict[str, Any], private: bool
    ) -> None:
        if req.get("method") == "ping":
            await ws.send_json({"method": "pong", "req_id": req.get("req_id")})
            return
        params = req.get("params", {})
        channel = params.get("channel")
        if private and params.get("token") not in self.ws_tokens:
            await ws.send_json(
                {"method": "subscribe", "success": False, "error": "EAccount:Invalid token"}
            )
            return
        self.subscribe_count += 1
        self.ws_subs[ws].add(channel)
        if channel == "ohlc":
            self.ohlc_subs[ws] = (set(params.get("symbol", [])), int(params.get("interval", 1)))
        await ws.send_json(
            {
                "method": "subscribe",
                "success": True,
                "result": {"channel": channel, "symbol": params.get("symbol")},
            }
        )
        if channel == "ohlc":
            data = kraken_tape.spot_snapshot(self, ws) if self.tape else list(self.ws_ohlc)
            await ws.send_json({"channel": "ohlc", "type": "snapshot", "data": data})
        if channel == "executions":
            self.ws_token_uses.append(str(params.get("token")))
            await ws.send_json(
                {"channel": "executions", "type": "snapshot", "data": self._exec_snapshot(params)}
            )

    async def push(self, channel: str, data: list[dict[str, Any]]) -> None:
        """Send an update on ``channel`` to every subscribed socket (unless silent)."""
        if channel == "ohlc":
            self.ws_ohlc.extend(data)
        if self.silent:
            return
        for ws, channels in list(self.ws_subs.items()):
            if channel in channels and not ws.closed and ws not in self.muted:
                with contextlib.suppress(ConnectionError):  # the peer vanished (SIGKILL)
                    await ws.send_json({"channel": channel, "type": "update", "data": data})

    # ------------------------------------------------------------------ WS v2 executions

    def _exec_entry(self, txid: str, exec_type: str) -> dict[str, Any]:
        """Return a full WS v2 ``executions`` entry for the current state of an order."""
        o = self.orders[txid]
        pair = self.pairs[self._key(o["descr"]["pair"])]
        status = {"open": "new", "closed": "filled"}.get(o["status"], o["status"])
        entry: dict[str, Any] = {
            "exec_type": exec_type,
            "order_id": txid,
            "cl_ord_id": o["cl_ord_id"],
            "symbol": _v2_name(pair),
            "side": o["descr"]["type"],
            "order_type": o["descr"]["ordertype"],
            "order_qty": float(o["vol"]),
            "order_status": status,
            "cum_qty": float(o["vol_exec"]),
            "avg_price": float(o["price"]),
            "timestamp": _rfc3339(self.clock_time()),
        }
        if o["descr"]["ordertype"] == "limit":
            entry["limit_price"] = float(o["descr"]["price"])
        return entry

    def _exec_snapshot(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        data = []
        if params.get("snap_orders", True):
            data += [
                self._exec_entry(t, "new") for t, o in self.orders.items() if o["status"] == "open"
            ]
        if params.get("snap_trades", False):
            data += [e for e in self.executions if e["exec_type"] == "trade"][-50:]
        return data

    async def flush_executions(self) -> None:
        """Push the executions recorded since the last flush (new orders, fills)."""
        data = self.executions[self.exec_cursor :]
        self.exec_cursor = len(self.executions)
        if data:
            await self.push("executions", data)

    async def push_raw(self, text: str) -> None:
        """Send ``text`` as is to every private socket (malformed-message tests)."""
        for ws, channels in list(self.ws_subs.items()):
            if "executions" in channels and not ws.closed:
                with contextlib.suppress(ConnectionError):  # the peer vanished (SIGKILL)
                    await ws.send_str(text)


def _v2_name(pair: dict[str, Any]) -> str:
    from kinetic.venues.kraken.symbols import ws_v2_symbol

    return ws_v2_symbol(pair["base"], pair["quote"])


def _rfc3339(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KrakenError(Exception):
    """An error string the fake answers with."""


def _err(text: str) -> web.Response:
    return web.json_response({"error": [text]})


def _public_order(order: dict[str, Any]) -> dict[str, Any]:
    """The order as the venue shows it (no ``cl_ord_id`` key when none was given)."""
    out = {k: v for k, v in order.items() if not k.startswith("_")}
    if not out.get("cl_ord_id"):
        out.pop("cl_ord_id", None)
    return out

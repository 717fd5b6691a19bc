"""The control API of every fake venue, under ``/_fake/`` (a prefix no real venue uses).

Served only to loopback callers (any other peer gets 403). Bodies and answers are JSON;
money and quantities are decimal strings. ``symbol`` in a request may be the venue's
own name (``BTCUSDT``, ``XBTUSDT``/``XBT/USDT``, ``PF_XBTUSD``) or Kinetic's
(``BTCUSDT``, ``BTCUSD`` for ``PF_XBTUSD``).

``GET /_fake/state``
    ``{"venue", "open_orders": [order], "positions": [{"symbol", "venue_symbol", "qty"
    (signed), "entry_price"}], "balances": {asset: amount}, "fills": [fill], "prices":
    {venue_symbol: price}, "requests": {"total": n, "by_path": {name: n}}}``; an order is
    ``{"id", "client_id", "symbol", "venue_symbol", "side" (buy|sell), "type", "qty",
    "price", "stop_price", "filled", "status", "reduce_only"}``, a fill ``{"id",
    "order_id", "client_id", "symbol", "side", "qty", "price", "fee", "time_ms"}`` (a
    Binance USD-M stop's fill is of the regular order that executed the triggered algo
    order: its ``client_id`` is that order's own, auto-generated id, and it carries
    ``"algo_client_id"`` and ``"algo_id"`` naming the algo order).
``POST /_fake/fault`` ``{"kind", "path"?, "times"?: 1, "retry_after"?: seconds}``
    Queue a fault for the next ``times`` requests (of ``path`` only, if given: a REST
    path such as ``/api/v3/order``, ``/0/private/AddOrder``,
    ``/derivatives/api/v3/sendorder``). Kinds: ``429`` (rate limit as the venue answers
    it), ``500``, ``503``, ``hang_after_accept`` (the request is processed, the answer
    never comes), ``drop_after_accept`` (processed, then the connection is cut); and
    each fake's own kinds (Binance ``418``; Kraken ``http_429``, ``invalid_nonce``,
    ``lockout``, ``malformed``). Answer: ``{"queued": kind, "native": name}``.
``POST /_fake/cancel_stops`` ``{}``
    Cancel every open stop order on the venue (a stop cancelled by hand). Answer:
    ``{"cancelled": [order id]}``.
``POST /_fake/close_position`` ``{"symbol"}``
    Close the position by hand with a market order (futures: reduce-only for the whole
    size; spot: sell the whole free base balance). Answer: ``{"closed": qty, "order_id"}``.
``POST /_fake/price`` ``{"symbol", "price"}``
    Set the last price (fills the resting limits and triggers the stops it crosses);
    in the sandbox the candle tape sets it again at its next close. Answer:
    ``{"symbol", "price"}``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from kinetic.venues.base.errors import PermanentError
from kinetic.venues.kraken.symbols import futures_kraken_symbol, futures_symbol, spot_symbol

if TYPE_CHECKING:
    from kinetic.venues.fakes.binance_server import FakeBinance
    from kinetic.venues.fakes.binance_state import FakeOrder
    from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
    from kinetic.venues.fakes.kraken_server import FakeKrakenSpot

PREFIX = "/_fake"
LOOPBACK = frozenset({"127.0.0.1", "::1"})
D = Decimal
KRAKEN_KINDS = {
    "429": "rate_limit",
    "500": "http_500",
    "503": "unavailable",
    "hang_after_accept": "timeout_after_accept",
    "drop_after_accept": "disconnect_after_accept",
}


class ControlError(ValueError):
    """A control request the fake cannot carry out (answered with HTTP 400)."""


class VenueControl(Protocol):
    """What the control API needs from one fake venue."""

    venue: str

    def state(self) -> dict[str, Any]: ...
    def inject(self, kind: str, path: str | None, times: int, retry_after: float | None) -> str: ...
    def cancel_stops(self) -> list[str]: ...
    def close_position(self, symbol: str) -> dict[str, Any]: ...
    def set_price(self, symbol: str, price: Decimal) -> str: ...


def add_control_routes(app: web.Application, control: VenueControl) -> None:
    """Register the ``/_fake/...`` routes (before any catch-all route of the fake)."""

    def guarded(
        fn: Callable[[dict[str, Any]], Any],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            if request.remote not in LOOPBACK:
                return web.json_response({"error": "loopback only"}, status=403)
            try:
                body = json.loads(await request.text() or "{}")
                if not isinstance(body, dict):
                    raise ControlError("the body must be a JSON object")
                return web.json_response(fn(body))
            except (ControlError, ValueError, KeyError, InvalidOperation) as exc:
                return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)

        return handler

    def fault(b: dict[str, Any]) -> Any:
        kind = str(b["kind"])
        retry = b.get("retry_after")
        native = control.inject(
            kind, b.get("path"), int(b.get("times", 1)), None if retry is None else float(retry)
        )
        return {"queued": kind, "native": native}

    def price(b: dict[str, Any]) -> Any:
        return {"symbol": b["symbol"], "price": control.set_price(str(b["symbol"]), D(b["price"]))}

    app.router.add_get(f"{PREFIX}/state", guarded(lambda _b: control.state()))
    app.router.add_post(f"{PREFIX}/fault", guarded(fault))
    app.router.add_post(
        f"{PREFIX}/cancel_stops", guarded(lambda _b: {"cancelled": control.cancel_stops()})
    )
    app.router.add_post(
        f"{PREFIX}/close_position", guarded(lambda b: control.close_position(str(b["symbol"])))
    )
    app.router.add_post(f"{PREFIX}/price", guarded(price))


def _order(**kw: Any) -> dict[str, Any]:
    keys = ["id", "client_id", "symbol", "venue_symbol", "side", "type", "qty", "price"]
    keys += ["stop_price", "filled", "status", "reduce_only"]
    return {k: kw.get(k) for k in keys}


# ---------------------------------------------------------------------- Binance
class BinanceControl:
    """Control of a ``FakeBinance`` (spot or USD-M)."""

    def __init__(self, srv: FakeBinance) -> None:
        self.srv = srv
        self.venue = "binance_usdm" if srv.futures else "binance_spot"
        self._manual = 0

    def state(self) -> dict[str, Any]:
        b = self.srv.book
        orders = b.open_orders(None) + b.open_orders(None, algo=True)
        by_id = {o.order_id: o for o in b.orders.values()}
        algo_ids = {o.client_id: o.order_id for o in b.orders.values() if o.algo}
        balances = {"USDT": str(b.wallet)} if self.srv.futures else b.balances
        return {
            "venue": self.venue,
            "open_orders": [
                _order(
                    id=str(o.order_id),
                    client_id=o.client_id,
                    symbol=o.symbol,
                    venue_symbol=o.symbol,
                    side=o.side.lower(),
                    type=o.type,
                    qty=str(o.qty),
                    price=str(o.price),
                    stop_price=str(o.stop),
                    filled=str(o.filled),
                    status=o.status,
                    reduce_only=o.reduce_only,
                )
                for o in orders
            ],
            "positions": [
                {"symbol": s, "venue_symbol": s, "qty": str(amt), "entry_price": str(entry)}
                for s, (amt, entry) in b.positions.items()
                if amt != 0
            ],
            "balances": {a: str(v) for a, v in balances.items()},
            "fills": [_binance_fill(t, by_id.get(t["orderId"]), algo_ids) for t in b.trades],
            "prices": {s: str(p) for s, p in b.prices.items()},
            "validated": b.test_orders,  # order/test calls that passed: never placed
            "requests": _requests(self.srv.request_counts),
        }

    def inject(self, kind: str, path: str | None, times: int, retry_after: float | None) -> str:
        native = {"hang": "hang_after_accept", "drop": "drop_after_accept"}.get(kind, kind)
        allowed = ("429", "418", "500", "503", "hang_after_accept", "drop_after_accept")
        if native not in allowed:
            raise ControlError(f"unknown fault kind {kind!r}; allowed: {', '.join(allowed)}")
        self.srv.inject(native, path=path, times=times, retry_after=retry_after)
        return native

    def cancel_stops(self) -> list[str]:
        from kinetic.venues.fakes.binance_state import STOP_TYPES

        b = self.srv.book
        stops = [
            o for o in b.open_orders(None) + b.open_orders(None, algo=True) if o.type in STOP_TYPES
        ]
        return [str(b.cancel(o).order_id) for o in stops]

    def close_position(self, symbol: str) -> dict[str, Any]:
        b = self.srv.book
        sym = b.sym(symbol)
        if self.srv.futures:
            qty = b.positions.get(symbol, (D(0), D(0)))[0]
        else:
            qty = b.balances.get(sym.base, D(0)).quantize(sym.step, ROUND_DOWN)
        if qty == 0:
            raise ControlError(f"no position on {symbol}")
        self._manual += 1
        params = {
            "symbol": symbol,
            "side": "SELL" if qty > 0 else "BUY",
            "type": "MARKET",
            "quantity": str(abs(qty)),
            "newClientOrderId": f"manual-close-{self._manual}",
        }
        if self.srv.futures:
            params["reduceOnly"] = "true"
        order = b.new_order(params, self.srv.now_ms())
        return {"closed": str(abs(qty)), "order_id": str(order.order_id)}

    def set_price(self, symbol: str, price: Decimal) -> str:
        self.srv.set_price(self.srv.book.sym(symbol).symbol, price)
        return str(price)


def _binance_fill(
    t: dict[str, Any], order: FakeOrder | None, algo_ids: dict[str, int]
) -> dict[str, Any]:
    """A Binance trade as a control-API fill (a stop's fill names its algo order)."""
    fill: dict[str, Any] = {
        "id": str(t["id"]),
        "order_id": str(t["orderId"]),
        "client_id": order.client_id if order is not None else "",
        "symbol": t["symbol"],
        "side": "buy" if t.get("isBuyer", t.get("buyer")) else "sell",
        "qty": t["qty"],
        "price": t["price"],
        "fee": t["commission"],
        "time_ms": t["time"],
    }
    if order is not None and order.algo_client_id:
        fill["algo_client_id"] = order.algo_client_id
        algo_id = algo_ids.get(order.algo_client_id)
        fill["algo_id"] = str(algo_id) if algo_id is not None else ""
    return fill


# ---------------------------------------------------------------------- Kraken spot
class KrakenSpotControl:
    """Control of a ``FakeKrakenSpot``."""

    venue = "kraken_spot"

    def __init__(self, srv: FakeKrakenSpot) -> None:
        self.srv = srv

    def _pair(self, name: str) -> str:
        for key, pair in self.srv.pairs.items():
            if spot_symbol(pair["base"], pair["quote"]) == name.upper():
                return key
        key = self.srv.pair_key(name)
        if key not in self.srv.pairs:
            raise ControlError(f"unknown pair {name!r}")
        return key

    def _symbol(self, key: str) -> str:
        pair = self.srv.pairs[key]
        return spot_symbol(pair["base"], pair["quote"])

    def state(self) -> dict[str, Any]:
        srv = self.srv
        return {
            "venue": self.venue,
            "open_orders": [
                self._order_view(txid, o) for txid, o in srv.orders.items() if o["status"] == "open"
            ],
            "positions": [],
            "balances": {a: str(v) for a, v in srv.balances.items()},
            "fills": [
                {
                    "id": tid,
                    "order_id": t["ordertxid"],
                    "client_id": srv.orders[t["ordertxid"]]["cl_ord_id"],
                    "symbol": self._symbol(t["pair"]),
                    "side": t["type"],
                    "qty": t["vol"],
                    "price": t["price"],
                    "fee": t["fee"],
                    "time_ms": int(t["time"] * 1000),
                }
                for tid, t in srv.trades.items()
            ],
            "prices": {srv.pairs[k]["altname"]: str(p) for k, p in srv.prices.items()},
            "validated": srv.validate_calls,  # AddOrder validate=true: never placed
            "requests": _requests(srv.calls),
        }

    def _order_view(self, txid: str, o: dict[str, Any]) -> dict[str, Any]:
        d = o["descr"]
        key = self.srv.pair_key(d["pair"])
        stop = d["ordertype"] == "stop-loss"
        return _order(
            id=txid,
            client_id=o["cl_ord_id"],
            symbol=self._symbol(key),
            venue_symbol=d["pair"],
            side=d["type"],
            type=d["ordertype"],
            qty=o["vol"],
            price=None if stop else d["price"],
            stop_price=d["price"] if stop else None,
            filled=o["vol_exec"],
            status=o["status"],
            reduce_only=False,
        )

    def inject(self, kind: str, path: str | None, times: int, retry_after: float | None) -> str:
        return _kraken_inject(self.srv, kind, path, times)

    def cancel_stops(self) -> list[str]:
        hits = [
            t
            for t, o in self.srv.orders.items()
            if o["status"] == "open" and o["descr"]["ordertype"] == "stop-loss"
        ]
        for txid in hits:
            self.srv.orders[txid]["status"] = "canceled"
        return hits

    def close_position(self, symbol: str) -> dict[str, Any]:
        key = self._pair(symbol)
        pair = self.srv.pairs[key]
        qty = self.srv.balances.get(pair["base"], D(0)).quantize(D("1e-8"), ROUND_DOWN)
        if qty <= 0:
            raise ControlError(f"no {pair['base']} balance to sell")
        params = {"pair": key, "type": "sell", "ordertype": "market", "volume": str(qty)}
        from kinetic.venues.fakes.kraken_server import KrakenError

        try:
            result = self.srv.priv_AddOrder(params)
        except KrakenError as exc:
            raise ControlError(str(exc)) from None
        return {"closed": str(qty), "order_id": result["txid"][0]}

    def set_price(self, symbol: str, price: Decimal) -> str:
        self.srv.set_price(self._pair(symbol), price)
        return str(price)


# ---------------------------------------------------------------------- Kraken Futures
class KrakenFuturesControl:
    """Control of a ``FakeKrakenFutures``."""

    venue = "kraken_futures"

    def __init__(self, srv: FakeKrakenFutures) -> None:
        self.srv = srv

    def _venue_symbol(self, name: str) -> str:
        if any(i["symbol"] == name for i in self.srv.instruments):
            return name
        try:
            return futures_kraken_symbol(name)
        except PermanentError as exc:
            raise ControlError(str(exc)) from None

    def state(self) -> dict[str, Any]:
        srv = self.srv
        return {
            "venue": self.venue,
            "open_orders": [
                _order(
                    id=o["order_id"],
                    client_id=o["cliOrdId"],
                    symbol=futures_symbol(o["symbol"]),
                    venue_symbol=o["symbol"],
                    side=o["side"],
                    type=o["orderType"],
                    qty=str(o["size"]),
                    price=o["limitPrice"],
                    stop_price=o["stopPrice"],
                    filled=str(o["filled"]),
                    status=o["status"],
                    reduce_only=o["reduceOnly"],
                )
                for o in srv.orders.values()
                if o["status"] == "open"
            ],
            "positions": [
                {
                    "symbol": futures_symbol(s),
                    "venue_symbol": s,
                    "qty": str(q),
                    "entry_price": None,
                }
                for s, q in srv.positions.items()
                if q != 0
            ],
            "balances": {"USD": str(srv.cash)},
            "fills": [self._fill_view(f) for f in srv.fills],
            "prices": {s: str(p) for s, p in srv.prices.items()},
            "requests": _requests(srv.calls),
        }

    @staticmethod
    def _fill_view(f: dict[str, Any]) -> dict[str, Any]:
        from datetime import datetime

        ts = datetime.fromisoformat(f["fillTime"].replace("Z", "+00:00")).timestamp()
        return {
            "id": f["fill_id"],
            "order_id": f["order_id"],
            "client_id": f["cliOrdId"],
            "symbol": futures_symbol(f["symbol"]),
            "side": f["side"],
            "qty": f["size"],
            "price": f["price"],
            "fee": "0",
            "time_ms": int(ts * 1000),
        }

    def inject(self, kind: str, path: str | None, times: int, retry_after: float | None) -> str:
        return _kraken_inject(self.srv, kind, path, times)

    def cancel_stops(self) -> list[str]:
        hits = [
            o for o in self.srv.orders.values() if o["status"] == "open" and o["orderType"] == "stp"
        ]
        for o in hits:
            o["status"] = "cancelled"
        return [str(o["order_id"]) for o in hits]

    def close_position(self, symbol: str) -> dict[str, Any]:
        name = self._venue_symbol(symbol)
        qty = self.srv.positions.get(name, D(0))
        if qty == 0:
            raise ControlError(f"no position on {name}")
        if name not in self.srv.prices:
            raise ControlError(f"no price for {name}: set one first")
        params = {
            "symbol": name,
            "side": "sell" if qty > 0 else "buy",
            "orderType": "mkt",
            "size": str(abs(qty)),
            "reduceOnly": "true",
        }
        result = self.srv.ep_sendorder(params)
        return {"closed": str(abs(qty)), "order_id": result["sendStatus"]["order_id"]}

    def set_price(self, symbol: str, price: Decimal) -> str:
        self.srv.set_price(self._venue_symbol(symbol), price)
        return str(price)


def _kraken_inject(
    srv: FakeKrakenSpot | FakeKrakenFutures, kind: str, path: str | None, times: int
) -> str:
    native = KRAKEN_KINDS.get(kind, kind)
    allowed = set(KRAKEN_KINDS.values()) | {"http_429", "invalid_nonce", "lockout", "malformed"}
    if native not in allowed:
        raise ControlError(
            f"unknown fault kind {kind!r}; allowed: 429, 500, 503, "
            + ("hang_after_accept, drop_after_accept, " + ", ".join(sorted(allowed)))
        )
    method = "*" if not path else path.rstrip("/").rsplit("/api/v3/", 1)[-1].rsplit("/0/", 1)[-1]
    method = method.removeprefix("private/").removeprefix("public/")
    srv.fail(method, native, times)
    return native


def _requests(counts: Counter[str]) -> dict[str, Any]:
    return {"total": sum(counts.values()), "by_path": dict(counts)}

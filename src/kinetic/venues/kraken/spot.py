"""``KrakenSpotClient``: the ``SpotVenue`` protocol over Kraken's Spot REST API.

* Public calls: ``GET /0/public/<Method>``; private: ``POST /0/private/<Method>`` with a
  form body starting with ``nonce``, signed by ``API-Sign`` (see ``signing``).
* Private calls are serialised: Kraken rejects a nonce lower than one it has already
  accepted, and two requests in flight may arrive out of order.
* Rate limits: the per-key call counter (+1 per call, +2 for history, decaying per
  tier) is a ``DecayingCounter``; AddOrder/CancelOrder are on the trading engine's
  own per-pair limiter, so they cost 0 on the counter.
* Orders carry ``cl_ord_id`` = Kinetic's client order id; an order whose outcome is
  unknown raises ``OrderStateUnknown`` and is looked up by that id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from kinetic.clock import Clock
from kinetic.domain import Balance, Candle, Fill, Instrument, Order, OrderIntent, OrderStatus
from kinetic.domain import OrderType as OT
from kinetic.logging import REDACTOR, get_logger
from kinetic.venues.base.errors import (
    AuthError,
    DuplicateOrder,
    OrderNotFound,
    OrderRejected,
    TransientError,
    UnknownSymbol,
)
from kinetic.venues.base.filters import check_order, round_price
from kinetic.venues.http import (
    DecayingCounter,
    HttpClient,
    HttpSettings,
    Request,
    RequestKind,
    Response,
)
from kinetic.venues.kraken.errors import spot_mapper
from kinetic.venues.kraken.nonce import NonceGenerator, nonce_file_for
from kinetic.venues.kraken.schemas import (
    ORDER_TYPES,
    SchemaError,
    SpotPair,
    SpotTrade,
    parse_balances,
    parse_ohlc_row,
    parse_order,
)
from kinetic.venues.kraken.signing import encode_form, sign_spot
from kinetic.venues.kraken.symbols import interval_ms, spot_interval_minutes

DEFAULT_BASE_URL = "https://api.kraken.com"
VENUE = "kraken"
# tier -> (max counter, decay per second)  [exchange_api_facts §3.5]
TIERS: dict[str, tuple[float, float]] = {
    "starter": (15, 0.33),
    "intermediate": (20, 0.5),
    "pro": (20, 1.0),
}
_HISTORY_COST = 2
_TRADES_PAGE = 50


class KrakenSpotClient:
    """Kraken Spot REST client implementing ``SpotVenue``."""

    name = VENUE

    def __init__(
        self,
        clock: Clock,
        *,
        api_key: str = "",
        api_secret: str = "",
        base_url: str = DEFAULT_BASE_URL,
        state_dir: Path | None = None,
        tier: str = "starter",
        settings: HttpSettings | None = None,
    ) -> None:
        REDACTOR.add([api_key, api_secret])
        self._clock = clock
        self._key = api_key
        self._secret = api_secret
        max_count, decay = TIERS[tier]
        self.counter = DecayingCounter(clock, max_count=max_count, decay_per_second=decay)
        mapper = spot_mapper(VENUE, clock)
        headers = {"User-Agent": "kinetic"}
        self._public = HttpClient(
            VENUE, base_url, clock, mapper, settings=settings, headers=headers
        )
        self._private_http = HttpClient(
            VENUE, base_url, clock, mapper, limiter=self.counter, settings=settings, headers=headers
        )
        path = nonce_file_for(state_dir, VENUE, api_key) if state_dir is not None else None
        self.nonces = NonceGenerator(clock, path)
        self._private_lock = asyncio.Lock()
        self._pairs: dict[str, SpotPair] = {}
        self._symbol_by_name: dict[str, str] = {}
        self._cid_by_txid: dict[str, str] = {}
        self._log = get_logger(venue=VENUE, component="kraken_spot")

    # ------------------------------------------------------------------ transport

    async def _get(self, method: str, params: Iterable[tuple[str, str]] = ()) -> Any:
        query = encode_form(params)
        resp = await self._public.send(lambda: Request("GET", f"/0/public/{method}", query))
        return _result(resp, method)

    async def _post(
        self,
        method: str,
        params: Iterable[tuple[str, str]] = (),
        *,
        cost: float = 1,
        kind: RequestKind = RequestKind.READ,
        client_order_id: str = "",
    ) -> Any:
        if not self._key or not self._secret:
            raise AuthError(f"{VENUE}: {method} needs an API key and secret", venue=VENUE)
        path = f"/0/private/{method}"
        fixed = list(params)

        def build() -> Request:
            nonce = self.nonces.next()
            body = encode_form([("nonce", nonce), *fixed])
            sig = sign_spot(self._secret, path, nonce, body)
            return Request("POST", path, body=body, headers={"API-Key": self._key, "API-Sign": sig})

        async with self._private_lock:
            resp = await self._private_http.send(
                build, weight=cost, kind=kind, client_order_id=client_order_id
            )
        return _result(resp, method)

    # ------------------------------------------------------------------ market data

    async def get_server_time_ms(self) -> int:
        """Return Kraken's server time in milliseconds."""
        result = await self._get("Time")
        return int(result["unixtime"]) * 1000

    async def get_instruments(self) -> dict[str, Instrument]:
        """Load AssetPairs; return online pairs as instruments keyed by Kinetic symbol."""
        result = await self._get("AssetPairs")
        pairs: dict[str, SpotPair] = {}
        for key, raw in result.items():
            try:
                pair = SpotPair.parse(key, raw)
            except (SchemaError, TypeError, ValueError) as exc:
                self._skip("AssetPairs", key, exc)
                continue
            if pair.status == "online":
                pairs[pair.symbol] = pair
        self._pairs = pairs
        self._symbol_by_name = {}
        for symbol, pair in pairs.items():
            for name in (pair.key, pair.altname, pair.ws_symbol):
                self._symbol_by_name[name] = symbol
        return {s: p.to_instrument() for s, p in pairs.items()}

    async def pair(self, symbol: str) -> SpotPair:
        """Return the Kraken pair for a Kinetic symbol; raise ``UnknownSymbol``."""
        if not self._pairs:
            await self.get_instruments()
        pair = self._pairs.get(symbol.upper())
        if pair is None:
            raise UnknownSymbol(f"{VENUE}: unknown symbol {symbol!r}", venue=VENUE)
        return pair

    def symbol_of(self, kraken_name: str) -> str | None:
        """Return the Kinetic symbol for a pair key, altname or WS v2 name."""
        return self._symbol_by_name.get(kraken_name)

    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        """Return closed candles, oldest first (Kraken's last row is still open: dropped)."""
        pair = await self.pair(symbol)
        params = [("pair", pair.altname), ("interval", str(spot_interval_minutes(interval)))]
        if start_ms is not None:
            params.append(("since", str(max(0, start_ms // 1000 - 1))))
        result = await self._get("OHLC", params)
        rows: Any = next((v for k, v in result.items() if k != "last"), [])
        if not isinstance(rows, list):
            return []
        candles = []
        for row in rows[:-1]:
            try:
                candles.append(parse_ohlc_row(row, pair.symbol, interval_ms(interval)))
            except SchemaError as exc:
                self._skip("OHLC", pair.altname, exc)
        if start_ms is not None:
            return [c for c in candles if c.open_time_ms >= start_ms][:limit]
        return candles[-limit:] if limit > 0 else []

    async def get_ticker_price(self, symbol: str) -> Decimal:
        """Return the last trade price."""
        pair = await self.pair(symbol)
        result = await self._get("Ticker", [("pair", pair.altname)])
        entry = next(iter(result.values()))
        return Decimal(str(entry["c"][0]))

    # ------------------------------------------------------------------ account

    async def get_balances(self) -> dict[str, Balance]:
        """Return balances by common asset code (``BTC``, ``USD``), free = total - held."""
        return parse_balances(await self._post("BalanceEx"))

    async def get_ws_token(self) -> str:
        """Return a WebSocket v2 auth token (``GetWebSocketsToken``); it is redacted."""
        result = await self._post("GetWebSocketsToken")
        token = str(result["token"])
        REDACTOR.add([token])
        return token

    # ------------------------------------------------------------------ orders

    async def place_order(self, intent: OrderIntent) -> Order:
        """Validate against the pair's rules and send AddOrder with ``cl_ord_id``."""
        pair = await self.pair(intent.symbol)
        params, price = await self._order_params(intent, pair)
        try:
            result = await self._post(
                "AddOrder",
                params,
                cost=0,
                kind=RequestKind.ORDER,
                client_order_id=intent.client_order_id,
            )
        except DuplicateOrder as exc:
            raise DuplicateOrder(
                str(exc), client_order_id=intent.client_order_id, venue=VENUE, code=exc.code
            ) from None
        txid = str(result["txid"][0])
        self._cid_by_txid[txid] = intent.client_order_id
        if intent.order_type is OT.MARKET:
            found = await self._query_txids([txid])
            if txid in found:
                return found[txid]
        now = self._clock.time_ms()
        return Order(
            intent.client_order_id,
            intent.symbol,
            intent.side,
            intent.order_type,
            intent.quantity,
            OrderStatus.NEW,
            price if intent.order_type is OT.LIMIT else None,
            price if intent.order_type is OT.STOP_MARKET else None,
            venue_order_id=txid,
            created_ms=now,
            updated_ms=now,
        )

    async def validate_order(self, intent: OrderIntent) -> None:
        """``AddOrder`` with ``validate=true``: the venue checks it and places nothing."""
        pair = await self.pair(intent.symbol)
        params, _ = await self._order_params(intent, pair)
        await self._post("AddOrder", [*params, ("validate", "true")], cost=0)

    async def _order_params(
        self, intent: OrderIntent, pair: SpotPair
    ) -> tuple[list[tuple[str, str]], Decimal]:
        inst = pair.to_instrument()
        price = await self._reference_price(intent, inst)
        check_order(inst, intent.quantity, price, reduce_only=intent.reduce_only)
        params = [
            ("pair", pair.altname),
            ("type", "buy" if intent.side.value == "BUY" else "sell"),
            ("ordertype", ORDER_TYPES[intent.order_type]),
            ("volume", str(intent.quantity)),
        ]
        if intent.order_type is not OT.MARKET:
            params.append(("price", str(price)))
        params.append(("cl_ord_id", intent.client_order_id))
        return params, price

    async def _reference_price(self, intent: OrderIntent, inst: Instrument) -> Decimal:
        given = intent.price if intent.order_type is OT.LIMIT else intent.stop_price
        if intent.order_type is OT.MARKET:
            return await self.get_ticker_price(intent.symbol)
        if given is None:
            raise OrderRejected(f"{VENUE}: {intent.order_type} order needs a price", venue=VENUE)
        return round_price(given, inst.tick_size)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        """Cancel an open order by client id; ``OrderNotFound`` if it is not open."""
        open_orders = await self._open_by_cid(client_order_id)
        order = next((o for o in open_orders if o.symbol == symbol.upper()), None)
        if order is None or order.venue_order_id is None:
            raise OrderNotFound(f"{VENUE}: no open order {client_order_id}", venue=VENUE)
        await self._post("CancelOrder", [("txid", order.venue_order_id)], cost=0)
        order.status = OrderStatus.CANCELED
        order.updated_ms = self._clock.time_ms()
        return order

    async def cancel_all_orders(self, symbol: str) -> list[Order]:
        """Cancel every open order on ``symbol`` (Kraken's CancelAll spans all pairs)."""
        await self.pair(symbol)
        canceled = []
        for order in await self.get_open_orders(symbol):
            if order.venue_order_id is None:
                continue
            await self._post("CancelOrder", [("txid", order.venue_order_id)], cost=0)
            order.status = OrderStatus.CANCELED
            canceled.append(order)
        return canceled

    async def cancel_everything(self) -> int:
        """Cancel all open orders on every pair (kill switch); return Kraken's count."""
        result = await self._post("CancelAll", cost=0)
        return int(result.get("count", 0))

    async def set_dead_man_switch(self, timeout_seconds: int) -> None:
        """Arm (or with 0 disarm) ``CancelAllOrdersAfter``; refresh well before it fires."""
        await self._post("CancelAllOrdersAfter", [("timeout", str(max(0, timeout_seconds)))])

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        """Find an order by ``cl_ord_id`` among open, then closed orders."""
        await self.pair(symbol)
        found = [o for o in await self._open_by_cid(client_order_id) if o.symbol == symbol]
        if not found:
            result = await self._post("ClosedOrders", [("cl_ord_id", client_order_id)])
            found = [
                o
                for o in self._parse_orders(result.get("closed", {}), "ClosedOrders")
                if o.symbol == symbol and o.client_order_id == client_order_id
            ]
        return max(found, key=lambda o: o.created_ms) if found else None

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return open orders, for one symbol or all."""
        if not self._pairs:
            await self.get_instruments()
        result = await self._post("OpenOrders")
        orders = self._parse_orders(result.get("open", {}), "OpenOrders")
        return [o for o in orders if symbol is None or o.symbol == symbol.upper()]

    async def _open_by_cid(self, client_order_id: str) -> list[Order]:
        if not self._pairs:
            await self.get_instruments()
        result = await self._post("OpenOrders", [("cl_ord_id", client_order_id)])
        orders = self._parse_orders(result.get("open", {}), "OpenOrders")
        return [o for o in orders if o.client_order_id == client_order_id]

    async def _query_txids(self, txids: list[str]) -> dict[str, Order]:
        result = await self._post("QueryOrders", [("txid", ",".join(txids))])
        return {o.venue_order_id or "": o for o in self._parse_orders(result, "QueryOrders")}

    def _parse_orders(self, raw: Any, endpoint: str) -> list[Order]:
        orders = []
        for txid, entry in dict(raw).items():
            try:
                order = parse_order(txid, entry, self.symbol_of)
            except (SchemaError, TypeError, ValueError, KeyError) as exc:
                self._skip(endpoint, txid, exc)
                continue
            if order.client_order_id:
                self._cid_by_txid[txid] = order.client_order_id
            orders.append(order)
        return orders

    # ------------------------------------------------------------------ fills

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        """Return fills on ``symbol`` at or after ``since_ms``, oldest first."""
        pair = await self.pair(symbol)
        trades = [
            t
            for t in await self._trades_since(since_ms)
            if self.symbol_of(t.pair) == pair.symbol and t.ts_ms >= since_ms
        ]
        unknown = sorted({t.order_txid for t in trades} - set(self._cid_by_txid))
        for i in range(0, len(unknown), 20):
            await self._query_txids(unknown[i : i + 20])
        quote = pair.to_instrument().quote
        fills = [
            t.to_fill(self._cid_by_txid.get(t.order_txid, ""), pair.symbol, quote) for t in trades
        ]
        return sorted(fills, key=lambda f: (f.ts_ms, f.trade_id))

    async def _trades_since(self, since_ms: int) -> list[SpotTrade]:
        trades: list[SpotTrade] = []
        offset = 0
        while True:
            params = [("start", str(max(0, since_ms // 1000 - 1))), ("ofs", str(offset))]
            result = await self._post("TradesHistory", params, cost=_HISTORY_COST)
            page = dict(result.get("trades", {}))
            for trade_id, raw in page.items():
                try:
                    trades.append(SpotTrade.parse(trade_id, raw))
                except (SchemaError, TypeError, ValueError) as exc:
                    self._skip("TradesHistory", trade_id, exc)
            offset += len(page)
            if len(page) < _TRADES_PAGE or offset >= int(result.get("count", 0)):
                return trades

    # ------------------------------------------------------------------ misc

    def _skip(self, endpoint: str, item: str, exc: Exception) -> None:
        self._log.warning(
            "malformed venue payload skipped", endpoint=endpoint, item=item, error=str(exc)
        )

    def reset_failures(self) -> None:
        """Forget both HTTP clients' consecutive-failure counts (on every engine start)."""
        self._public.reset_failures()
        self._private_http.reset_failures()

    async def close(self) -> None:
        """Close both HTTP sessions."""
        await self._public.close()
        await self._private_http.close()


def _result(resp: Response, endpoint: str) -> Any:
    data = resp.json()
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise TransientError(f"{VENUE} {endpoint}: response without a result", venue=VENUE)
    return result

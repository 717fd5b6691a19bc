"""``KrakenFuturesClient``: the ``FuturesVenue`` protocol over Kraken Futures REST v3.

* Private calls carry ``APIKey``, ``Nonce`` and ``Authent`` (see ``signing``); GET
  parameters are signed as the query string, POST/PUT parameters as the form body.
* Cost budget: "500 every 10 seconds" on ``/derivatives`` endpoints, modelled as a
  decaying counter (capacity 500, 50/s); costs per endpoint as documented.
* ``sendorder`` answering ``result: success`` only means "received": the order was
  placed only if ``sendStatus.status`` says so; otherwise it is classified.
* ``orders/status`` forgets finished orders after a few seconds, so ``get_order``
  also looks in the fills and in the orders this client has seen.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from kinetic.clock import Clock
from kinetic.domain import (
    Balance,
    Candle,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    VenuePosition,
)
from kinetic.logging import REDACTOR, get_logger
from kinetic.venues.base.errors import (
    AuthError,
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
from kinetic.venues.kraken import futures_schemas as fs
from kinetic.venues.kraken.errors import futures_mapper, send_status_error
from kinetic.venues.kraken.nonce import NonceGenerator
from kinetic.venues.kraken.schemas import SchemaError
from kinetic.venues.kraken.signing import encode_form, sign_futures
from kinetic.venues.kraken.symbols import futures_kraken_symbol, futures_resolution, interval_ms

DEFAULT_BASE_URL = "https://futures.kraken.com"
DEMO_BASE_URL = "https://demo-futures.kraken.com"
VENUE = "kraken_futures"
API = "/derivatives/api/v3"
CHARTS = "/api/charts/v1"
FUNDING_RATES = f"{API}/historical-funding-rates"
ACCOUNT_LOG = "/api/history/v3/account-log"
LOG_PAGE = 500  # entries per account-log page
# per call; the rest comes on the next call (from the last payment). History calls draw
# on their own pool (100 tokens, refilled per 10 minutes), not the /derivatives budget:
# one sync every few minutes at 5 pages stays far inside it.
LOG_PAGES = 5
_COSTS = {
    "sendorder": 10,
    "cancelorder": 10,
    "cancelallorders": 25,
    "cancelallordersafter": 25,
    "accounts": 2,
    "openpositions": 2,
    "fills": 2,
    "openorders": 2,
    "orders/status": 1,
    "account-log": 0,  # the /history pool, see LOG_PAGES
}
_SEEN_ORDERS = 2000


class KrakenFuturesClient:
    """Kraken Futures REST client implementing ``FuturesVenue`` (``PF_`` perpetuals)."""

    name = VENUE
    funding_rates_page = 1_000_000  # historical-funding-rates has no paging: take it all

    def __init__(
        self,
        clock: Clock,
        *,
        api_key: str = "",
        api_secret: str = "",
        base_url: str = DEFAULT_BASE_URL,
        settings: HttpSettings | None = None,
        default_leverage: int = 1,
    ) -> None:
        REDACTOR.add([api_key, api_secret])
        self._clock = clock
        self._key, self._secret = api_key, api_secret
        self.budget = DecayingCounter(clock, max_count=500, decay_per_second=50)
        self._http = HttpClient(
            VENUE,
            base_url,
            clock,
            futures_mapper(VENUE),
            limiter=self.budget,
            settings=settings,
            headers={"User-Agent": "kinetic"},
        )
        self.nonces = NonceGenerator(clock)
        self._instruments: dict[str, Instrument] = {}
        self._leverage: dict[str, int] = {}
        self._default_leverage = default_leverage
        self._seen: OrderedDict[str, Order] = OrderedDict()
        self._log = get_logger(venue=VENUE, component="kraken_futures")

    # ------------------------------------------------------------------ transport

    async def _public(self, path: str, params: Iterable[tuple[str, str]] = ()) -> Any:
        query = encode_form(params)
        resp = await self._http.send(lambda: Request("GET", path, query), weight=0)
        return _json(resp, path)

    async def _private(
        self,
        method: str,
        endpoint: str,
        params: Iterable[tuple[str, str]] = (),
        *,
        kind: RequestKind = RequestKind.READ,
        client_order_id: str = "",
        path: str = "",
    ) -> Any:
        if not self._key or not self._secret:
            raise AuthError(f"{VENUE}: {endpoint} needs an API key and secret", venue=VENUE)
        path = path or f"{API}/{endpoint}"
        data = encode_form(params)

        def build() -> Request:
            nonce = self.nonces.next()
            sig = sign_futures(self._secret, path, nonce, data)
            headers = {"APIKey": self._key, "Nonce": nonce, "Authent": sig}
            if method == "GET":
                return Request(method, path, data, headers=headers)
            return Request(method, path, body=data, headers=headers)

        resp = await self._http.send(
            build, weight=_COSTS.get(endpoint, 1), kind=kind, client_order_id=client_order_id
        )
        return _json(resp, endpoint)

    # ------------------------------------------------------------------ market data

    async def get_server_time_ms(self) -> int:
        """Return the server time reported with the public tickers."""
        return fs.iso_ms((await self._public(f"{API}/tickers"))["serverTime"])

    async def get_instruments(self) -> dict[str, Instrument]:
        """Return tradeable ``PF_`` perpetuals keyed by Kinetic symbol (``BTCUSD``)."""
        data = await self._public(f"{API}/instruments")
        out: dict[str, Instrument] = {}
        for raw in data.get("instruments", []):
            try:
                inst = fs.parse_instrument(raw)
            except (SchemaError, TypeError, ValueError) as exc:
                self._skip("instruments", exc)
                continue
            if inst is not None:
                out[inst.symbol] = inst
        self._instruments = out
        return dict(out)

    async def instrument(self, symbol: str) -> Instrument:
        """Return the instrument for ``symbol``; raise ``UnknownSymbol``."""
        if not self._instruments:
            await self.get_instruments()
        inst = self._instruments.get(symbol.upper())
        if inst is None:
            raise UnknownSymbol(f"{VENUE}: unknown symbol {symbol!r}", venue=VENUE)
        return inst

    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        """Return closed trade candles from the charts API, oldest first."""
        return await self._chart("trade", symbol, interval, limit, start_ms)

    async def get_mark_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        """Return closed mark-price candles from the charts API, oldest first."""
        return await self._chart("mark", symbol, interval, limit, start_ms)

    async def get_funding_rates(
        self, symbol: str, start_ms: int, end_ms: int, limit: int = 1000
    ) -> list[FundingRate]:
        """Funding rates in ``[start_ms, end_ms]``, oldest first, at most ``limit`` (no paging)."""
        await self.instrument(symbol)
        params = [("symbol", futures_kraken_symbol(symbol))]
        data = await self._public(FUNDING_RATES, params)
        rates = []
        for raw in data.get("rates", []) if isinstance(data, dict) else []:
            try:
                rate = fs.parse_funding_rate(raw, symbol.upper())
            except SchemaError as exc:
                self._skip("historical-funding-rates", exc)
                continue
            if start_ms <= rate.ts_ms <= end_ms:
                rates.append(rate)
        return sorted(rates, key=lambda r: r.ts_ms)[:limit]

    async def _chart(
        self, tick_type: str, symbol: str, interval: str, limit: int, start_ms: int | None
    ) -> list[Candle]:
        await self.instrument(symbol)
        step = interval_ms(interval)
        now_ms = self._clock.time_ms()
        start = start_ms if start_ms is not None else now_ms - step * (limit + 1)
        kraken = futures_kraken_symbol(symbol)
        path = f"{CHARTS}/{tick_type}/{kraken}/{futures_resolution(interval)}"
        data = await self._public(path, [("from", str(start // 1000)), ("to", str(now_ms // 1000))])
        candles = []
        for raw in data.get("candles", []):
            try:
                candle = fs.parse_chart_candle(raw, symbol.upper(), step)
            except SchemaError as exc:
                self._skip("charts", exc)
                continue
            if candle.close_time_ms < now_ms and candle.open_time_ms >= start:
                candles.append(candle)
        return candles[:limit] if start_ms is not None else candles[-limit:]

    async def get_ticker_price(self, symbol: str) -> Decimal:
        """Return the last traded price."""
        kraken = futures_kraken_symbol(symbol)
        data = await self._public(f"{API}/tickers")
        for t in data.get("tickers", []):
            if t.get("symbol") == kraken:
                return Decimal(str(t["last"]))
        raise UnknownSymbol(f"{VENUE}: no ticker for {symbol!r}", venue=VENUE)

    # ------------------------------------------------------------------ account

    async def get_balances(self) -> dict[str, Balance]:
        """Return the flex (multi-collateral) account as a USD balance."""
        return fs.parse_balances((await self._private("GET", "accounts"))["accounts"])

    async def get_funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """USD funding booked at or after ``since_ms``, oldest first (the account log).

        Pages forward from the last entry's time (``since`` is inclusive, so entries
        sharing it are not lost), dropping ids already returned; at most ``LOG_PAGES``
        pages per call.
        """
        out: dict[str, FundingPayment] = {}
        start = since_ms
        for _ in range(LOG_PAGES):
            params = [("since", str(start)), ("sort", "asc"), ("count", str(LOG_PAGE))]
            data = await self._private("GET", "account-log", params, path=ACCOUNT_LOG)
            logs = data.get("logs") if isinstance(data, dict) else None
            if not isinstance(logs, list):
                self._skip("account-log", SchemaError("no logs list"))
                break
            times: list[int] = []
            for raw in logs:
                try:
                    times.append(fs.iso_ms(raw["date"]))
                    payment = fs.parse_funding(raw)
                except (SchemaError, TypeError, ValueError, KeyError) as exc:
                    self._skip("account-log", exc)
                    continue
                if payment is not None:
                    out.setdefault(payment.id, payment)
            if len(logs) < LOG_PAGE or not times or max(times) <= start:
                break
            start = max(times)
        return sorted(out.values(), key=lambda p: (p.ts_ms, p.id))

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set ``maxLeverage`` for ``symbol`` (Kraken: this also selects isolated margin)."""
        params = [("symbol", futures_kraken_symbol(symbol)), ("maxLeverage", str(leverage))]
        await self._private("PUT", "leveragepreferences", params)
        self._leverage[symbol.upper()] = leverage

    async def set_isolated_margin(self, symbol: str) -> None:
        """Select isolated margin by setting a leverage preference (the current one)."""
        await self.set_leverage(symbol, self._leverage.get(symbol.upper(), self._default_leverage))

    async def get_positions(self) -> list[VenuePosition]:
        """Return open positions."""
        data = await self._private("GET", "openpositions")
        out = []
        for raw in data.get("openPositions", []):
            try:
                sym = fs.parse_position(raw, 1).symbol
                out.append(fs.parse_position(raw, self._leverage.get(sym, self._default_leverage)))
            except (SchemaError, TypeError, ValueError, KeyError) as exc:
                self._skip("openpositions", exc)
        return out

    async def set_dead_man_switch(self, timeout_seconds: int) -> None:
        """Arm (or with 0 disarm) ``cancelallordersafter``."""
        await self._private(
            "POST", "cancelallordersafter", [("timeout", str(max(0, timeout_seconds)))]
        )

    # ------------------------------------------------------------------ orders

    async def place_order(self, intent: OrderIntent) -> Order:
        """Validate and send ``sendorder`` with ``cliOrdId``; check ``sendStatus``."""
        inst = await self.instrument(intent.symbol)
        params, price = await self._order_params(intent, inst)
        data = await self._private(
            "POST",
            "sendorder",
            params,
            kind=RequestKind.ORDER,
            client_order_id=intent.client_order_id,
        )
        status = data.get("sendStatus", {})
        err = send_status_error(
            str(status.get("status")), venue=VENUE, client_order_id=intent.client_order_id
        )
        if err is not None:
            raise err
        order = _placed(intent, price, status, self._clock.time_ms())
        self._remember(order)
        return order

    async def _order_params(
        self, intent: OrderIntent, inst: Instrument
    ) -> tuple[list[tuple[str, str]], Decimal]:
        if intent.order_type is OrderType.MARKET:
            price = await self.get_ticker_price(intent.symbol)
        else:
            given = intent.price if intent.order_type is OrderType.LIMIT else intent.stop_price
            if given is None:
                raise OrderRejected(f"{VENUE}: {intent.order_type} needs a price", venue=VENUE)
            price = round_price(given, inst.tick_size)
        check_order(inst, intent.quantity, price, reduce_only=intent.reduce_only)
        params = [
            ("orderType", fs.ORDER_TYPES[intent.order_type]),
            ("symbol", futures_kraken_symbol(intent.symbol)),
            ("side", "buy" if intent.side.value == "BUY" else "sell"),
            ("size", str(intent.quantity)),
        ]
        if intent.order_type is OrderType.LIMIT:
            params.append(("limitPrice", str(price)))
        if intent.order_type is OrderType.STOP_MARKET:
            params += [("stopPrice", str(price)), ("triggerSignal", "mark")]
        if intent.reduce_only:
            params.append(("reduceOnly", "true"))
        params.append(("cliOrdId", intent.client_order_id))
        return params, price

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        """Cancel by ``cliOrdId``; ``OrderNotFound`` if it is not open."""
        current = await self.get_order(symbol, client_order_id)
        if current is None or current.status.is_terminal:
            raise OrderNotFound(f"{VENUE}: no open order {client_order_id}", venue=VENUE)
        data = await self._private("POST", "cancelorder", [("cliOrdId", client_order_id)])
        if data.get("cancelStatus", {}).get("status") != "cancelled":
            raise OrderNotFound(f"{VENUE}: cancel of {client_order_id} refused", venue=VENUE)
        current.status = OrderStatus.CANCELED
        current.updated_ms = self._clock.time_ms()
        self._remember(current)
        return current

    async def cancel_all_orders(self, symbol: str) -> list[Order]:
        """Cancel every open order on ``symbol``; return them as cancelled."""
        open_orders = await self.get_open_orders(symbol)
        await self._private("POST", "cancelallorders", [("symbol", futures_kraken_symbol(symbol))])
        for order in open_orders:
            order.status = OrderStatus.CANCELED
            self._remember(order)
        return open_orders

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        """Find an order by ``cliOrdId``: live status, then fills, then orders seen here."""
        await self.instrument(symbol)
        data = await self._private("POST", "orders/status", [("cliOrdIds", client_order_id)])
        for raw in data.get("orders", []):
            try:
                order = fs.parse_order_status(raw)
            except (SchemaError, TypeError, ValueError, KeyError) as exc:
                self._skip("orders/status", exc)
                continue
            if order.client_order_id == client_order_id and order.symbol == symbol.upper():
                self._remember(order)
                return order
        return await self._order_from_fills(symbol, client_order_id)

    async def _order_from_fills(self, symbol: str, client_order_id: str) -> Order | None:
        seen = self._seen.get(client_order_id)
        fills = [f for f in await self.get_fills(symbol) if f.client_order_id == client_order_id]
        if not fills:
            return seen
        qty = sum((f.quantity for f in fills), Decimal(0))
        avg = sum((f.price * f.quantity for f in fills), Decimal(0)) / qty
        base = seen or Order(
            client_order_id,
            symbol.upper(),
            fills[0].side,
            OrderType.MARKET,
            qty,
            OrderStatus.FILLED,
        )
        base.filled_qty, base.avg_price = qty, avg
        base.status = OrderStatus.FILLED if qty >= base.quantity else base.status
        return base

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return open orders, for one symbol or all."""
        data = await self._private("GET", "openorders")
        out = []
        for raw in data.get("openOrders", []):
            try:
                order = fs.parse_open_order(raw)
            except (SchemaError, TypeError, ValueError, KeyError) as exc:
                self._skip("openorders", exc)
                continue
            if symbol is None or order.symbol == symbol.upper():
                out.append(order)
        return out

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        """Return fills on ``symbol`` at or after ``since_ms``, oldest first."""
        data = await self._private("GET", "fills")
        fills = []
        for raw in data.get("fills", []):
            try:
                fill = fs.parse_fill(raw)
            except (SchemaError, TypeError, ValueError, KeyError) as exc:
                self._skip("fills", exc)
                continue
            if fill.symbol == symbol.upper() and fill.ts_ms >= since_ms:
                fills.append(fill)
        return sorted(fills, key=lambda f: (f.ts_ms, f.trade_id))

    # ------------------------------------------------------------------ misc

    def _remember(self, order: Order) -> None:
        self._seen[order.client_order_id] = order
        self._seen.move_to_end(order.client_order_id)
        while len(self._seen) > _SEEN_ORDERS:
            self._seen.popitem(last=False)

    def _skip(self, endpoint: str, exc: Exception) -> None:
        self._log.warning("malformed venue payload skipped", endpoint=endpoint, error=str(exc))

    def reset_failures(self) -> None:
        """Forget the HTTP client's consecutive-failure count (on every engine start)."""
        self._http.reset_failures()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()


def _placed(intent: OrderIntent, price: Decimal, status: Any, now_ms: int) -> Order:
    filled = Decimal(0)
    notional = Decimal(0)
    for event in status.get("orderEvents", []):
        if event.get("type") == "EXECUTION":
            amount = Decimal(str(event.get("amount", 0)))
            filled += amount
            notional += amount * Decimal(str(event.get("price", 0)))
    state = OrderStatus.NEW
    if filled > 0:
        state = OrderStatus.FILLED if filled >= intent.quantity else OrderStatus.PARTIALLY_FILLED
    return Order(
        intent.client_order_id,
        intent.symbol.upper(),
        intent.side,
        intent.order_type,
        intent.quantity,
        state,
        price if intent.order_type is OrderType.LIMIT else None,
        price if intent.order_type is OrderType.STOP_MARKET else None,
        intent.reduce_only,
        str(status.get("order_id", "")),
        filled,
        notional / filled if filled else Decimal(0),
        now_ms,
        now_ms,
    )


def _json(resp: Response, endpoint: str) -> Any:
    data = resp.json()
    if not isinstance(data, dict):
        raise TransientError(f"{VENUE} {endpoint}: malformed response", venue=VENUE)
    return data

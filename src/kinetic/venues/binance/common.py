"""Behaviour shared by the Binance spot and USD-M clients (paths differ, logic does not)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kinetic.domain import (
    Candle,
    Fill,
    Instrument,
    MarketType,
    Order,
    OrderIntent,
    OrderType,
)
from kinetic.logging import get_logger
from kinetic.venues.base.errors import (
    DuplicateOrder,
    OrderNotFound,
    UnknownSymbol,
)
from kinetic.venues.base.filters import check_order, round_price
from kinetic.venues.binance.rest import BinanceRest
from kinetic.venues.binance.schemas import (
    SchemaError,
    SymbolInfo,
    parse_kline,
    parse_many,
    parse_order,
    parse_trade,
)
from kinetic.venues.http import RequestKind


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The REST paths and weights that differ between spot and USD-M."""

    exchange_info: str
    exchange_info_weight: int
    klines: str
    klines_weight: int
    ticker: str
    order: str
    open_orders: str
    open_orders_all_weight: int
    cancel_all: str
    trades: str
    trades_weight: int


def num(value: Decimal) -> str:
    """Format a Decimal without exponent, as Binance expects."""
    return format(value.normalize(), "f")


class BinanceVenueBase:
    """Implement the ``SpotVenue`` protocol on top of ``BinanceRest`` and ``Endpoints``."""

    market: MarketType
    resp_type: str = "RESULT"

    def __init__(self, name: str, rest: BinanceRest, endpoints: Endpoints) -> None:
        self.name = name
        self.rest = rest
        self.ep = endpoints
        self._instruments: dict[str, Instrument] = {}
        self._client_ids: dict[str, str] = {}  # venue order id -> client order id
        self.log = get_logger(venue=name)

    async def get_server_time_ms(self) -> int:
        """Return the venue's time (ms) and refresh the clock offset."""
        await self.rest.sync_time()
        return self.rest.offset.now_ms()

    async def get_instruments(self) -> dict[str, Instrument]:
        """Load (once) and return the tradable instruments from exchangeInfo."""
        if not self._instruments:
            data = await self.rest.public(
                "GET", self.ep.exchange_info, weight=self.ep.exchange_info_weight
            )
            infos = parse_many(
                data.get("symbols") if isinstance(data, dict) else None,
                SymbolInfo.parse,
                venue=self.name,
                endpoint=self.ep.exchange_info,
            )
            self._instruments = {
                i.symbol: i.to_instrument(self.market) for i in infos if i.status == "TRADING"
            }
        return dict(self._instruments)

    async def instrument(self, symbol: str) -> Instrument:
        """Return ``symbol``'s instrument or raise ``UnknownSymbol``."""
        inst = (await self.get_instruments()).get(symbol)
        if inst is None:
            raise UnknownSymbol(f"{self.name}: unknown symbol {symbol}", venue=self.name)
        return inst

    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        """Return closed candles, oldest first; the still-open last row is dropped."""
        return await self._klines(self.ep.klines, symbol, interval, limit, start_ms)

    async def _klines(
        self, path: str, symbol: str, interval: str, limit: int, start_ms: int | None
    ) -> list[Candle]:
        """Closed kline rows of ``path`` (klines, or USD-M's mark-price klines)."""
        params: dict[str, object] = {"symbol": symbol, "interval": interval, "limit": limit}
        if start_ms is not None:
            params["startTime"] = start_ms
        if not self.rest.offset.synced:
            await self.rest.sync_time()
        rows = await self.rest.public("GET", path, params, weight=self.ep.klines_weight)
        candles = parse_many(rows, parse_kline(symbol), venue=self.name, endpoint=path)
        now = self.rest.offset.now_ms()
        return [c for c in candles if c.close_time_ms < now]

    async def get_ticker_price(self, symbol: str) -> Decimal:
        """Return the last traded price."""
        data = await self.rest.public("GET", self.ep.ticker, {"symbol": symbol}, weight=2)
        try:
            return Decimal(str(data["price"]))
        except (KeyError, TypeError, ArithmeticError):
            raise SchemaError(f"{self.name}: malformed ticker for {symbol}") from None

    # ------------------------------------------------------------------ orders
    async def place_order(self, intent: OrderIntent) -> Order:
        """Check filters locally, send once; ``DuplicateOrder`` names the client id."""
        inst = await self.instrument(intent.symbol)
        params = self.order_params(intent, inst)
        check_price = await self._check_price(intent, inst)
        check_order(inst, intent.quantity, check_price, reduce_only=intent.reduce_only)
        data = await self._send_order(self.ep.order, params, intent.client_order_id)
        return self._remember(parse_order(data))

    async def _send_order(self, path: str, params: Mapping[str, Any], client_order_id: str) -> Any:
        """POST one order to ``path``; a ``DuplicateOrder`` names the client id and venue."""
        try:
            return await self.rest.signed(
                "POST",
                path,
                params,
                orders=1,
                kind=RequestKind.ORDER,
                client_order_id=client_order_id,
            )
        except DuplicateOrder as exc:
            raise DuplicateOrder(
                str(exc), client_order_id=client_order_id, venue=self.name, code=exc.code
            ) from None

    async def validate_order(self, intent: OrderIntent) -> None:
        """Check filters locally, then ``POST <order>/test``: validated, never placed."""
        inst = await self.instrument(intent.symbol)
        params = self.order_params(intent, inst)
        check_price = await self._check_price(intent, inst)
        check_order(inst, intent.quantity, check_price, reduce_only=intent.reduce_only)
        await self.rest.signed("POST", self.ep.order + "/test", params)

    def order_params(self, intent: OrderIntent, inst: Instrument) -> dict[str, object]:
        """Build the new-order parameters (subclasses add venue specifics)."""
        params: dict[str, object] = {
            "symbol": intent.symbol,
            "side": intent.side.value,
            "type": intent.order_type.value,
            "quantity": num(intent.quantity),
            "newClientOrderId": intent.client_order_id,
            "newOrderRespType": self.resp_type,
        }
        if intent.order_type is OrderType.LIMIT and intent.price is not None:
            params["timeInForce"] = "GTC"
            params["price"] = num(round_price(intent.price, inst.tick_size))
        return params

    async def _check_price(self, intent: OrderIntent, inst: Instrument) -> Decimal:
        limited = intent.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        if limited and intent.price is not None:
            return round_price(intent.price, inst.tick_size)
        if intent.order_type is OrderType.STOP_MARKET and intent.stop_price is not None:
            return intent.stop_price
        return await self.get_ticker_price(intent.symbol)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        """Cancel by client id; ``OrderNotFound`` if unknown or already final."""
        data = await self.rest.signed(
            "DELETE", self.ep.order, {"symbol": symbol, "origClientOrderId": client_order_id}
        )
        return self._remember(parse_order(data))

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        """Look up by ``origClientOrderId``; ``None`` when the venue never saw it (-2013)."""
        try:
            data = await self.rest.signed(
                "GET",
                self.ep.order,
                {"symbol": symbol, "origClientOrderId": client_order_id},
                weight=4,
            )
        except OrderNotFound:
            return None
        return self._remember(parse_order(data))

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return open orders for ``symbol`` (or every symbol: a heavy call)."""
        params = {"symbol": symbol} if symbol else {}
        weight = 6 if symbol else self.ep.open_orders_all_weight
        data = await self.rest.signed("GET", self.ep.open_orders, params, weight=weight)
        orders = parse_many(data, parse_order, venue=self.name, endpoint=self.ep.open_orders)
        return [self._remember(o) for o in orders]

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        """Return fills at or after ``since_ms`` (up to 1000), with client order ids."""
        params: dict[str, object] = {"symbol": symbol, "limit": 1000}
        if since_ms:
            params["startTime"] = since_ms
        rows = await self.rest.signed("GET", self.ep.trades, params, weight=self.ep.trades_weight)
        if isinstance(rows, list):
            await self._learn_client_ids(symbol, rows)
        return parse_many(
            rows, parse_trade(self._id_map()), venue=self.name, endpoint=self.ep.trades
        )

    def _id_map(self) -> Mapping[str, str]:
        """Venue order id -> client order id, as trades are attributed."""
        return self._client_ids

    def _unknown_order_ids(self, rows: list[Any]) -> set[str]:
        """The order ids of ``rows`` no client order id is known for."""
        known = self._id_map()
        ids = {str(r.get("orderId")) for r in rows if isinstance(r, dict)}
        return {i for i in ids if i not in known}

    async def _learn_client_ids(self, symbol: str, rows: list[Any]) -> None:
        """Trades carry only the venue order id: query unknown ones once."""
        for order_id in sorted(self._unknown_order_ids(rows)):
            try:
                data = await self.rest.signed(
                    "GET", self.ep.order, {"symbol": symbol, "orderId": order_id}, weight=4
                )
                self._remember(parse_order(data))
            except (OrderNotFound, SchemaError) as exc:
                self.log.warning("fill of unknown order", order_id=order_id, error=str(exc))

    def _remember(self, order: Order) -> Order:
        if order.venue_order_id:
            if len(self._client_ids) > 50_000:
                self._client_ids.clear()
            self._client_ids[order.venue_order_id] = order.client_order_id
        return order

    def reset_failures(self) -> None:
        """Forget the consecutive-failure count (called on every engine start)."""
        self.rest.reset_failures()

    async def close(self) -> None:
        """Release the HTTP session."""
        await self.rest.close()

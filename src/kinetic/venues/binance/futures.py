"""``BinanceFuturesClient``: the ``FuturesVenue`` protocol over Binance USD-M (fapi).

* Protective stops (``STOP_MARKET``) go to the Algo Service, ``POST /fapi/v1/algoOrder``
  with ``algoType=CONDITIONAL``, ``triggerPrice`` and ``clientAlgoId`` (the plain order
  endpoint rejects them with -4120 since 2025-12-09). Lookups and cancels fall back to
  the algo endpoints when the regular ones do not know the client id.
* ``cancel_all_orders`` cancels regular orders only: protective stops stay (the kill
  switch keeps stops). Use ``cancel_all_stops`` to remove those too.
* ``countdownCancelAll`` needs a symbol: the dead-man switch is armed for every symbol
  this client has ordered on, plus ``dead_man_symbols``.
* Funding payments come from the income history, ``GET /fapi/v1/income`` with
  ``incomeType=FUNDING_FEE`` (weight 30; ``tranId`` unique per income type; the venue
  keeps three months), paged by ``startTime`` 1000 rows at a time.
* A triggered stop is executed by a regular order of the matching engine, whose own
  client id is the venue's: its trades are attributed to the stop's ``clientAlgoId``
  through the algo order's ``actualOrderId``. The client remembers the algo orders it
  placed, listed or looked up (a restarted client learns the journaled stops through
  ``get_order``); a trade of an unknown order first queries those not yet attributed.
"""

from __future__ import annotations

import contextlib
from collections import ChainMap
from collections.abc import Iterable, Mapping
from typing import Any

from kinetic.clock import Clock
from kinetic.domain import (
    Balance,
    Candle,
    FundingPayment,
    FundingRate,
    Instrument,
    MarketType,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    VenuePosition,
)
from kinetic.venues.base.errors import (
    OrderNotFound,
    PermanentError,
)
from kinetic.venues.base.filters import check_order
from kinetic.venues.binance.common import BinanceVenueBase, Endpoints, num
from kinetic.venues.binance.errors import NO_NEED_TO_CHANGE_MARGIN_TYPE
from kinetic.venues.binance.rest import FUTURES_WINDOWS, BinanceRest, RestConfig
from kinetic.venues.binance.schemas import (
    AlgoOrder,
    SchemaError,
    parse_balance,
    parse_funding,
    parse_funding_rate,
    parse_many,
    parse_order,
    parse_position,
    present,
)
from kinetic.venues.http import HttpSettings, Window, WindowLimiter

FUTURES_BASE_URL = "https://fapi.binance.com"
FUTURES_TESTNET_URL = "https://testnet.binancefuture.com"
ALGO = "/fapi/v1/algoOrder"
INCOME = "/fapi/v1/income"
INCOME_PAGE = 1000  # the endpoint's maximum limit
INCOME_PAGES = 20  # per call; the rest comes on the next call (from the last payment)
FUNDING_RATE = "/fapi/v1/fundingRate"  # history; limit <= 1000, startTime/endTime inclusive
# fundingRate has its own budget, "500/5min/IP" shared with fundingInfo (not request weight)
FUNDING_RATE_WINDOW = Window("funding_rate_5m", 300, 500)
MARK_KLINES = "/fapi/v1/markPriceKlines"  # kline rows of the mark price (volume "0")
ALGO_IDS_KEPT = 10_000  # algo orders awaiting attribution, and attributed actual orders
_UNEXECUTED = (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)

FUTURES_ENDPOINTS = Endpoints(
    exchange_info="/fapi/v1/exchangeInfo",
    exchange_info_weight=1,
    klines="/fapi/v1/klines",
    klines_weight=5,
    ticker="/fapi/v1/ticker/price",
    order="/fapi/v1/order",
    open_orders="/fapi/v1/openOrders",
    open_orders_all_weight=40,
    cancel_all="/fapi/v1/allOpenOrders",
    trades="/fapi/v1/userTrades",
    trades_weight=5,
)


class BinanceFuturesClient(BinanceVenueBase):
    """Binance USD-M futures client (one-way mode, isolated margin)."""

    market = MarketType.FUTURES
    resp_type = "RESULT"

    def __init__(
        self,
        clock: Clock,
        *,
        api_key: str = "",
        api_secret: str = "",
        base_url: str = FUTURES_BASE_URL,
        settings: HttpSettings | None = None,
        recv_window_ms: int = 5000,
        dead_man_symbols: Iterable[str] = (),
        name: str = "binance_usdm",
    ) -> None:
        config = RestConfig(name, base_url, "/fapi/v1/time", tuple(FUTURES_WINDOWS), recv_window_ms)
        rest = BinanceRest(config, clock, api_key=api_key, api_secret=api_secret, settings=settings)
        super().__init__(name, rest, FUTURES_ENDPOINTS)
        self._leverage: dict[str, int] = {}
        self._symbols: set[str] = set(dead_man_symbols)
        # algoId -> (symbol, clientAlgoId) of our algo orders not executed yet (as far
        # as we know), and actualOrderId -> clientAlgoId of those that were
        self._pending_algos: dict[str, tuple[str, str]] = {}
        self._actual_ids: dict[str, str] = {}
        self._funding_rate_budget = WindowLimiter(clock, [FUNDING_RATE_WINDOW])

    async def get_funding_rates(
        self, symbol: str, start_ms: int, end_ms: int, limit: int = 1000
    ) -> list[FundingRate]:
        """Funding settlements in ``[start_ms, end_ms]``, oldest first, at most ``limit``."""
        params = {"symbol": symbol, "startTime": start_ms, "endTime": end_ms, "limit": limit}
        await self._funding_rate_budget.acquire(1)
        rows = await self.rest.public("GET", FUNDING_RATE, params, weight=1)
        rates = parse_many(rows, parse_funding_rate, venue=self.name, endpoint=FUNDING_RATE)
        return sorted(rates, key=lambda r: r.ts_ms)

    async def get_mark_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        """Closed mark-price candles, oldest first (volume 0: the venue sends none)."""
        return await self._klines(MARK_KLINES, symbol, interval, limit, start_ms)

    def order_params(self, intent: OrderIntent, inst: Instrument) -> dict[str, object]:
        """Add ``reduceOnly`` (one-way mode only)."""
        params = super().order_params(intent, inst)
        if intent.reduce_only:
            params["reduceOnly"] = "true"
        return params

    async def place_order(self, intent: OrderIntent) -> Order:
        """Send regular orders to /fapi/v1/order and stops to the algo endpoint."""
        self._symbols.add(intent.symbol)
        if intent.order_type is not OrderType.STOP_MARKET:
            return await super().place_order(intent)
        await self.instrument(intent.symbol)
        return await self._place_stop(intent)

    async def validate_order(self, intent: OrderIntent) -> None:
        """``POST /fapi/v1/order/test``; a stop (algo order, no test endpoint) is checked
        against the filters here only."""
        if intent.order_type is not OrderType.STOP_MARKET:
            await super().validate_order(intent)
            return
        inst = await self.instrument(intent.symbol)
        if intent.stop_price is None:
            raise PermanentError(f"{self.name}: STOP_MARKET needs stop_price", venue=self.name)
        check_order(inst, intent.quantity, intent.stop_price, reduce_only=intent.reduce_only)

    async def _place_stop(self, intent: OrderIntent) -> Order:
        if intent.stop_price is None:
            raise PermanentError(f"{self.name}: STOP_MARKET needs stop_price", venue=self.name)
        params: dict[str, object] = {
            "algoType": "CONDITIONAL",
            "symbol": intent.symbol,
            "side": intent.side.value,
            "type": "STOP_MARKET",
            "quantity": num(intent.quantity),
            "triggerPrice": num(intent.stop_price),
            "workingType": "MARK_PRICE",
            "reduceOnly": "true" if intent.reduce_only else "false",
            "clientAlgoId": intent.client_order_id,
        }
        data = await self._send_order(ALGO, params, intent.client_order_id)
        return self._remember_algo(AlgoOrder.parse(data))

    def _remember_algo(self, algo: AlgoOrder) -> Order:
        """Note an algo order of ours: its executing order's trades are the stop's."""
        order = algo.order
        if algo.actual_order_id:
            self._pending_algos.pop(algo.algo_id, None)
            _put(self._actual_ids, algo.actual_order_id, order.client_order_id)
        elif order.status in _UNEXECUTED:
            self._pending_algos.pop(algo.algo_id, None)
        else:
            _put(self._pending_algos, algo.algo_id, (order.symbol, order.client_order_id))
        return order

    def _id_map(self) -> Mapping[str, str]:
        """Executed stops' actual order ids first (the venue names them otherwise)."""
        return ChainMap(self._actual_ids, self._client_ids)

    async def _learn_client_ids(self, symbol: str, rows: list[Any]) -> None:
        """Attribute unknown trades to our triggered stops first, then query the rest."""
        if self._unknown_order_ids(rows):
            await self._learn_actual_ids(symbol)
        await super()._learn_client_ids(symbol, rows)

    async def _learn_actual_ids(self, symbol: str) -> None:
        """Query our not yet executed algo orders on ``symbol`` for ``actualOrderId``."""
        pending = [a for a, (s, _) in self._pending_algos.items() if s == symbol]
        for algo_id in pending:
            try:
                data = await self.rest.signed("GET", ALGO, {"algoId": algo_id})
                self._remember_algo(AlgoOrder.parse(data))
            except OrderNotFound:  # archived by the venue: nothing more to learn
                self._pending_algos.pop(algo_id, None)
            except SchemaError as exc:
                self.log.warning("malformed algo order", algo_id=algo_id, error=str(exc))

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        """Look up a regular order, then an algo order, by client id."""
        found = await super().get_order(symbol, client_order_id)
        if found is not None:
            return found
        try:
            data = await self.rest.signed("GET", ALGO, {"clientAlgoId": client_order_id})
        except OrderNotFound:
            return None
        algo = AlgoOrder.parse(data)
        if algo.order.symbol != symbol:
            return None
        order = self._remember_algo(algo)
        if algo.actual_order_id and order.status.is_terminal:
            await self._executed(order, algo.actual_order_id)
        return order

    async def _executed(self, order: Order, actual_order_id: str) -> None:
        """Set a triggered stop's filled quantity and price from its executing order.

        The algo order reports none, and a reduce-only stop fills at most what it
        reduces: a position cut by hand before the trigger leaves the stop FINISHED for
        less than its quantity. Taken as filled in full, the missing part would be
        awaited as unseen fills that never come (``OrderManager.unseen_fills``). An
        executing order the venue no longer answers for leaves the stop as it was.
        """
        try:
            data = await self.rest.signed(
                "GET", self.ep.order, {"symbol": order.symbol, "orderId": actual_order_id},
                weight=4,
            )  # fmt: skip
            actual = parse_order(data)
        except (OrderNotFound, SchemaError):
            return
        order.filled_qty, order.avg_price = actual.filled_qty, actual.avg_price

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        """Cancel a regular order, or else an algo order, by client id."""
        with contextlib.suppress(OrderNotFound):
            return await super().cancel_order(symbol, client_order_id)
        # raises OrderNotFound when the algo service does not know the id either
        await self.rest.signed("DELETE", ALGO, {"clientAlgoId": client_order_id})
        order = await self.get_order(symbol, client_order_id)
        if order is None:  # the cancel answer is terse; the lookup has the details
            raise OrderNotFound(f"{self.name}: unknown order {client_order_id}", venue=self.name)
        return order

    async def cancel_all_orders(self, symbol: str) -> list[Order]:
        """Cancel regular open orders on ``symbol`` (protective stops stay)."""
        open_orders = [
            o
            for o in await self.get_open_orders(symbol)
            if o.order_type is not OrderType.STOP_MARKET
        ]
        await self.rest.signed("DELETE", self.ep.cancel_all, {"symbol": symbol})
        for order in open_orders:
            order.status = OrderStatus.CANCELED
        return open_orders

    async def cancel_all_stops(self, symbol: str) -> None:
        """Cancel every open algo (conditional) order on ``symbol``."""
        await self.rest.signed("DELETE", "/fapi/v1/algoOpenOrders", {"symbol": symbol})

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return regular and algo open orders."""
        regular = await super().get_open_orders(symbol)
        params = {"symbol": symbol} if symbol else {}
        data = await self.rest.signed("GET", "/fapi/v1/openAlgoOrders", params)
        algos = parse_many(
            data, AlgoOrder.parse, venue=self.name, endpoint="/fapi/v1/openAlgoOrders"
        )
        return regular + [self._remember_algo(a) for a in algos]

    async def get_balances(self) -> dict[str, Balance]:
        """Return futures wallet balances by asset (free = available balance)."""
        data = await self.rest.signed("GET", "/fapi/v3/balance", weight=5)
        balances = parse_many(data, parse_balance, venue=self.name, endpoint="/fapi/v3/balance")
        return {b.asset: b for b in balances}

    async def get_funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """USDT funding payments booked at or after ``since_ms``, oldest first.

        Pages forward from the last row's time (inclusive, so rows sharing it are not
        lost), dropping ids already returned; at most ``INCOME_PAGES`` pages per call.
        """
        out: dict[str, FundingPayment] = {}
        start = since_ms
        for _ in range(INCOME_PAGES):
            params = {"incomeType": "FUNDING_FEE", "startTime": start, "limit": INCOME_PAGE}
            data = await self.rest.signed("GET", INCOME, params, weight=30)
            page = parse_many(data, parse_funding("USDT"), venue=self.name, endpoint=INCOME)
            fresh = [p for p in present(page) if p.id not in out]
            for payment in fresh:
                out[payment.id] = payment
            if not isinstance(data, list) or len(data) < INCOME_PAGE or not fresh:
                break
            start = max(p.ts_ms for p in fresh)
        return sorted(out.values(), key=lambda p: (p.ts_ms, p.id))

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set the initial leverage of ``symbol``."""
        await self.rest.signed(
            "POST", "/fapi/v1/leverage", {"symbol": symbol, "leverage": leverage}
        )
        self._leverage[symbol] = leverage

    async def set_isolated_margin(self, symbol: str) -> None:
        """Switch ``symbol`` to isolated margin; "no need to change" (-4046) is success."""
        try:
            await self.rest.signed(
                "POST", "/fapi/v1/marginType", {"symbol": symbol, "marginType": "ISOLATED"}
            )
        except PermanentError as exc:
            if exc.code != NO_NEED_TO_CHANGE_MARGIN_TYPE:
                raise

    async def ensure_one_way_mode(self) -> None:
        """Raise ``PermanentError`` if the account is in hedge (dual-side) mode."""
        data = await self.rest.signed("GET", "/fapi/v1/positionSide/dual", weight=30)
        if not isinstance(data, dict) or data.get("dualSidePosition") is not False:
            raise PermanentError(
                f"{self.name}: account must be in one-way position mode", venue=self.name
            )

    async def get_positions(self) -> list[VenuePosition]:
        """Return open (non-zero) positions from positionRisk v3."""
        data = await self.rest.signed("GET", "/fapi/v3/positionRisk", weight=5)
        rows = parse_many(
            data, parse_position(self._leverage), venue=self.name, endpoint="/fapi/v3/positionRisk"
        )
        return present(rows)

    async def set_dead_man_switch(self, timeout_seconds: int) -> None:
        """Arm (or with 0, disarm) countdownCancelAll for every symbol in use."""
        for symbol in sorted(self._symbols):
            await self.rest.signed(
                "POST",
                "/fapi/v1/countdownCancelAll",
                {"symbol": symbol, "countdownTime": timeout_seconds * 1000},
                weight=10,
            )


def _put(cache: dict[str, Any], key: str, value: Any) -> None:
    """Insert ``key`` (as the newest); forget the oldest beyond ``ALGO_IDS_KEPT``."""
    cache.pop(key, None)
    cache[key] = value
    while len(cache) > ALGO_IDS_KEPT:
        del cache[next(iter(cache))]

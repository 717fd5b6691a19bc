"""``BinanceSpotClient``: the ``SpotVenue`` protocol over Binance Spot REST (api/v3)."""

from __future__ import annotations

from kinetic.clock import Clock
from kinetic.domain import Balance, Instrument, MarketType, Order, OrderIntent, OrderType
from kinetic.venues.base.errors import OrderNotFound, OrderRejected
from kinetic.venues.base.filters import round_price
from kinetic.venues.binance.common import BinanceVenueBase, Endpoints, num
from kinetic.venues.binance.rest import SPOT_WINDOWS, BinanceRest, RestConfig
from kinetic.venues.binance.schemas import parse_balance, parse_many, parse_order
from kinetic.venues.http import HttpSettings

SPOT_BASE_URL = "https://api.binance.com"
SPOT_TESTNET_URL = "https://testnet.binance.vision"

SPOT_ENDPOINTS = Endpoints(
    exchange_info="/api/v3/exchangeInfo",
    exchange_info_weight=20,
    klines="/api/v3/klines",
    klines_weight=2,
    ticker="/api/v3/ticker/price",
    order="/api/v3/order",
    open_orders="/api/v3/openOrders",
    open_orders_all_weight=80,
    cancel_all="/api/v3/openOrders",
    trades="/api/v3/myTrades",
    trades_weight=20,
)


class BinanceSpotClient(BinanceVenueBase):
    """Binance Spot client. ``base_url`` may point at a testnet or a local fake server."""

    market = MarketType.SPOT
    resp_type = "FULL"

    def __init__(
        self,
        clock: Clock,
        *,
        api_key: str = "",
        api_secret: str = "",
        base_url: str = SPOT_BASE_URL,
        settings: HttpSettings | None = None,
        recv_window_ms: int = 5000,
        name: str = "binance_spot",
    ) -> None:
        config = RestConfig(name, base_url, "/api/v3/time", tuple(SPOT_WINDOWS), recv_window_ms)
        rest = BinanceRest(config, clock, api_key=api_key, api_secret=api_secret, settings=settings)
        super().__init__(name, rest, SPOT_ENDPOINTS)

    def order_params(self, intent: OrderIntent, inst: Instrument) -> dict[str, object]:
        """Spot has no reduce-only; stops are ``STOP_LOSS`` / ``STOP_LOSS_LIMIT``.

        A ``STOP_LIMIT`` becomes ``STOP_LOSS_LIMIT``: ``stopPrice`` is the trigger,
        ``price`` the worst price the triggered limit may trade at, GTC.
        """
        params = super().order_params(intent, inst)
        stop = intent.stop_price
        if intent.order_type is OrderType.STOP_MARKET and stop is not None:
            params["type"] = "STOP_LOSS"
            params["stopPrice"] = num(stop)
        elif intent.order_type is OrderType.STOP_LIMIT:
            if stop is None or intent.price is None:
                raise OrderRejected(
                    f"{self.name}: STOP_LIMIT needs a stop and a limit price", venue=self.name
                )
            params["type"] = "STOP_LOSS_LIMIT"
            params["timeInForce"] = "GTC"
            params["stopPrice"] = num(round_price(stop, inst.tick_size))
            params["price"] = num(round_price(intent.price, inst.tick_size))
        return params

    async def get_balances(self) -> dict[str, Balance]:
        """Return non-zero balances by asset."""
        data = await self.rest.signed(
            "GET", "/api/v3/account", {"omitZeroBalances": "true"}, weight=20
        )
        rows = data.get("balances") if isinstance(data, dict) else None
        balances = parse_many(rows, parse_balance, venue=self.name, endpoint="/api/v3/account")
        return {b.asset: b for b in balances}

    async def cancel_all_orders(self, symbol: str) -> list[Order]:
        """Cancel every open order on ``symbol``; return them as canceled."""
        try:
            data = await self.rest.signed("DELETE", self.ep.cancel_all, {"symbol": symbol})
        except OrderNotFound:  # -2011 "Unknown order sent.": nothing was open
            return []
        orders = parse_many(data, parse_order, venue=self.name, endpoint=self.ep.cancel_all)
        return [self._remember(o) for o in orders]

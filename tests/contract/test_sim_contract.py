"""Run the venue contract suite against both SimExchange flavours."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kinetic.clock import ManualClock
from kinetic.domain import Candle, MarketType, OrderType
from kinetic.venues.base.protocols import FuturesVenue, SpotVenue
from kinetic.venues.sim import SimFuturesExchange, SimSpotExchange, default_instruments
from tests.contract.venue_contract import VenueContractTests


def _candle(symbol: str, price: Decimal, ts_ms: int) -> Candle:
    p = float(price)
    return Candle(symbol, ts_ms, ts_ms + 59_999, p, p, p, p, 1.0)


class TestSimSpotContract(VenueContractTests):
    tiny_qty = Decimal("0.00005")  # 2.5 USDT < 5 USDT min notional
    spot_stops = (OrderType.STOP_LIMIT, OrderType.STOP_MARKET)

    async def make_venue(self) -> Any:
        clock = ManualClock()
        venue = SimSpotExchange(
            default_instruments(MarketType.SPOT, ["BTCUSDT"]),
            clock,
            {"USDT": Decimal("100000")},
        )
        assert isinstance(venue, SpotVenue)
        return venue

    async def feed_price(self, venue: Any, price: Decimal) -> None:
        venue.on_candle(_candle(self.symbol, price, await venue.get_server_time_ms()))


class TestSimFuturesContract(VenueContractTests):
    async def make_venue(self) -> Any:
        clock = ManualClock()
        venue = SimFuturesExchange(
            default_instruments(MarketType.FUTURES, ["BTCUSDT"]),
            clock,
            Decimal("100000"),
        )
        assert isinstance(venue, FuturesVenue)
        return venue

    async def feed_price(self, venue: Any, price: Decimal) -> None:
        venue.on_candle(_candle(self.symbol, price, await venue.get_server_time_ms()))

"""Run the venue contract suite against the Binance clients and the fake server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kinetic.clock import RealClock
from kinetic.domain import OrderType
from kinetic.venues.base.protocols import FuturesVenue, SpotVenue
from kinetic.venues.binance import BinanceFuturesClient, BinanceSpotClient
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from tests.contract.venue_contract import VenueContractTests


class _BinanceContract(VenueContractTests):
    futures = False

    async def make_venue(self) -> Any:
        server = FakeBinance(futures=self.futures)
        await server.start()
        cls = BinanceFuturesClient if self.futures else BinanceSpotClient
        venue = cls(RealClock(), api_key=API_KEY, api_secret=API_SECRET, base_url=server.url)
        assert isinstance(venue, FuturesVenue if self.futures else SpotVenue)
        original_close = venue.close

        async def close() -> None:
            await original_close()
            await server.stop()

        venue.close = close  # type: ignore[method-assign]
        venue.fake = server  # type: ignore[attr-defined]
        return venue

    async def feed_price(self, venue: Any, price: Decimal) -> None:
        venue.fake.set_price(self.symbol, price)


class TestBinanceSpotContract(_BinanceContract):
    tiny_qty = Decimal("0.00005")  # 2.5 USDT < 5 USDT min notional
    spot_stops = (OrderType.STOP_LIMIT, OrderType.STOP_MARKET)


class TestBinanceFuturesContract(_BinanceContract):
    futures = True

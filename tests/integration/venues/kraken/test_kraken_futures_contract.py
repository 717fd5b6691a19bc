"""The venue contract suite against ``KrakenFuturesClient`` and the fake Futures server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from kinetic.venues.base.protocols import FuturesVenue
from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
from kinetic.venues.kraken.futures import KrakenFuturesClient
from tests.contract.venue_contract import VenueContractTests
from tests.fake_venues.fast_clock import AutoClock

KEY = "test-key-futures"
SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="


class TestKrakenFuturesContract(VenueContractTests):
    symbol = "BTCUSD"
    unknown_symbol = "NOPEUSD"
    off_step_qty = Decimal("0.01001")  # 5 decimals; PF_XBTUSD trades in 0.0001
    tiny_qty = Decimal("0.00001")  # below the 0.0001 minimum (Kraken has no notional floor)

    @pytest.fixture
    async def venue(self) -> AsyncIterator[Any]:
        clock = AutoClock()
        self.server = FakeKrakenFutures(KEY, SECRET, clock)
        await self.server.start()
        venue = KrakenFuturesClient(
            clock, api_key=KEY, api_secret=SECRET, base_url=self.server.base_url
        )
        assert isinstance(venue, FuturesVenue)
        await self.feed_price(venue, self.price)
        yield venue
        await venue.close()
        await self.server.stop()

    async def make_venue(self) -> Any:  # pragma: no cover - the fixture above is used
        raise NotImplementedError

    async def feed_price(self, venue: Any, price: Decimal) -> None:
        self.server.set_price("PF_XBTUSD", price)

"""The venue contract suite against ``KrakenSpotClient`` talking to the fake Kraken server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from kinetic.domain import OrderType
from kinetic.venues.base.protocols import SpotVenue
from kinetic.venues.fakes.kraken_server import FakeKrakenSpot
from kinetic.venues.kraken.spot import KrakenSpotClient
from tests.contract.venue_contract import VenueContractTests
from tests.fake_venues.fast_clock import AutoClock

KEY = "test-key-spot"
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


class TestKrakenSpotContract(VenueContractTests):
    off_step_qty = Decimal("0.010000001")  # 9 decimals; XBTUSDT has lot_decimals 8
    tiny_qty = Decimal("0.0001")  # 5 USDT < costmin 10
    spot_stops = (OrderType.STOP_MARKET,)  # ordertype stop-loss

    @pytest.fixture
    async def venue(self) -> AsyncIterator[Any]:
        clock = AutoClock()
        self.server = FakeKrakenSpot(KEY, SECRET, clock)
        await self.server.start()
        venue = await self.make_venue_on(clock)
        await self.feed_price(venue, self.price)
        yield venue
        await venue.close()
        await self.server.stop()

    async def make_venue_on(self, clock: AutoClock) -> KrakenSpotClient:
        venue = KrakenSpotClient(
            clock, api_key=KEY, api_secret=SECRET, base_url=self.server.base_url
        )
        assert isinstance(venue, SpotVenue)
        return venue

    async def make_venue(self) -> Any:  # pragma: no cover - the fixture above is used
        raise NotImplementedError

    async def feed_price(self, venue: Any, price: Decimal) -> None:
        self.server.set_price("XBTUSDT", price)

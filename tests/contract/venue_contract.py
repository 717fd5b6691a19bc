"""A venue contract suite every venue implementation must pass (hummingbot style).

Subclass ``VenueContractTests`` in a ``Test*`` class and implement ``make_venue`` and
``feed_price``; pytest then runs every ``test_*`` method against that venue. Tune the
class attributes when the venue's instrument rules differ from Binance BTCUSDT.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from kinetic.domain import OrderIntent, OrderStatus, OrderType, Side
from kinetic.venues.base.errors import (
    DuplicateOrder,
    OrderNotFound,
    OrderRejected,
    UnknownSymbol,
)


class VenueContractTests(abc.ABC):
    """Behaviour shared by the SimExchange and every real venue client."""

    symbol: ClassVar[str] = "BTCUSDT"
    price: ClassVar[Decimal] = Decimal("50000")
    qty: ClassVar[Decimal] = Decimal("0.01")
    off_step_qty: ClassVar[Decimal] = Decimal("0.0100001")
    tiny_qty: ClassVar[Decimal] = Decimal("0.001")  # on-step but below min notional
    unknown_symbol: ClassVar[str] = "NOPEUSDT"
    # the exchange-side sell stops a spot venue offers for a position (none on futures,
    # whose reduce-only stops have their own tests)
    spot_stops: ClassVar[tuple[OrderType, ...]] = ()

    _ids = itertools.count(1)

    @abc.abstractmethod
    async def make_venue(self) -> Any:
        """Return a venue with a funded account that lists ``symbol``."""

    @abc.abstractmethod
    async def feed_price(self, venue: Any, price: Decimal) -> None:
        """Make ``venue`` aware that ``symbol`` trades at ``price``."""

    @pytest.fixture
    async def venue(self) -> AsyncIterator[Any]:
        venue = await self.make_venue()
        await self.feed_price(venue, self.price)
        yield venue
        await venue.close()

    def intent(
        self,
        side: Side = Side.BUY,
        order_type: OrderType = OrderType.MARKET,
        *,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        client_order_id: str | None = None,
        symbol: str | None = None,
    ) -> OrderIntent:
        cid = client_order_id or f"contract-{next(self._ids)}"
        return OrderIntent(
            engine="contract",
            symbol=symbol or self.symbol,
            side=side,
            order_type=order_type,
            quantity=self.qty if qty is None else qty,
            client_order_id=cid,
            price=price,
        )

    def sell_stop(self, order_type: OrderType, stop: Decimal, limit: Decimal) -> OrderIntent:
        """Return a protective sell stop for ``qty`` (a stop-limit gets ``limit``)."""
        return OrderIntent(
            engine="contract",
            symbol=self.symbol,
            side=Side.SELL,
            order_type=order_type,
            quantity=self.qty,
            client_order_id=f"contract-{next(self._ids)}",
            price=limit if order_type is OrderType.STOP_LIMIT else None,
            stop_price=stop,
            reduce_only=True,
        )

    def resting_buy(self, **kwargs: Any) -> OrderIntent:
        """Return a limit buy far below the market, so it rests."""
        return self.intent(
            Side.BUY, OrderType.LIMIT, price=self.price / 2, qty=self.qty * 2, **kwargs
        )

    async def test_market_order_is_filled_and_fill_reported(self, venue: Any) -> None:
        order = await venue.place_order(self.intent())
        assert order.status is OrderStatus.FILLED
        assert order.filled_qty == self.qty
        fills = await venue.get_fills(self.symbol)
        mine = [f for f in fills if f.client_order_id == order.client_order_id]
        assert sum(f.quantity for f in mine) == self.qty
        assert all(f.side is Side.BUY for f in mine)

    async def test_order_is_found_by_client_id(self, venue: Any) -> None:
        placed = await venue.place_order(self.resting_buy())
        found = await venue.get_order(self.symbol, placed.client_order_id)
        assert found is not None
        assert found.client_order_id == placed.client_order_id
        assert found.status is OrderStatus.NEW
        assert found.quantity == placed.quantity

    async def test_get_order_of_unknown_id_returns_none(self, venue: Any) -> None:
        assert await venue.get_order(self.symbol, "never-sent-123") is None

    async def test_cancel_resting_limit(self, venue: Any) -> None:
        placed = await venue.place_order(self.resting_buy())
        canceled = await venue.cancel_order(self.symbol, placed.client_order_id)
        assert canceled.status is OrderStatus.CANCELED
        found = await venue.get_order(self.symbol, placed.client_order_id)
        assert found is not None
        assert found.status is OrderStatus.CANCELED
        assert await venue.get_open_orders(self.symbol) == []

    async def test_cancel_unknown_order_raises_not_found(self, venue: Any) -> None:
        with pytest.raises(OrderNotFound):
            await venue.cancel_order(self.symbol, "never-sent-456")

    async def test_cancel_all_cancels_every_open_order(self, venue: Any) -> None:
        first = await venue.place_order(self.resting_buy())
        second = await venue.place_order(self.resting_buy())
        canceled = await venue.cancel_all_orders(self.symbol)
        ids = {o.client_order_id for o in canceled}
        assert ids == {first.client_order_id, second.client_order_id}
        assert all(o.status is OrderStatus.CANCELED for o in canceled)
        assert await venue.get_open_orders(self.symbol) == []

    async def test_open_orders_lists_resting_only(self, venue: Any) -> None:
        resting = await venue.place_order(self.resting_buy())
        await venue.place_order(self.intent())
        open_orders = await venue.get_open_orders(self.symbol)
        assert [o.client_order_id for o in open_orders] == [resting.client_order_id]
        assert [o.client_order_id for o in await venue.get_open_orders()] == [
            resting.client_order_id
        ]

    async def test_duplicate_client_id_raises_duplicate_order(self, venue: Any) -> None:
        await venue.place_order(self.resting_buy(client_order_id="dup-1"))
        with pytest.raises(DuplicateOrder) as info:
            await venue.place_order(self.resting_buy(client_order_id="dup-1"))
        assert info.value.client_order_id == "dup-1"

    async def test_qty_not_multiple_of_step_rejected(self, venue: Any) -> None:
        with pytest.raises(OrderRejected):
            await venue.place_order(self.intent(qty=self.off_step_qty))

    async def test_below_min_notional_rejected(self, venue: Any) -> None:
        with pytest.raises(OrderRejected):
            await venue.place_order(self.intent(qty=self.tiny_qty))

    async def test_unknown_symbol_raises(self, venue: Any) -> None:
        with pytest.raises(UnknownSymbol):
            await venue.place_order(self.intent(symbol=self.unknown_symbol))

    async def test_rejected_order_is_not_recorded(self, venue: Any) -> None:
        intent = self.intent(qty=self.tiny_qty)
        with pytest.raises(OrderRejected):
            await venue.place_order(intent)
        assert await venue.get_order(self.symbol, intent.client_order_id) is None

    async def test_spot_sell_stop_rests_then_fills_once_the_price_reaches_it(
        self, venue: Any
    ) -> None:
        if not self.spot_stops:
            pytest.skip("no exchange-side spot stop on this venue")
        stop, limit = self.price * Decimal("0.9"), self.price * Decimal("0.89")
        for order_type in self.spot_stops:
            await self.feed_price(venue, self.price)
            await venue.place_order(self.intent())  # the coins the stop protects
            placed = await venue.place_order(self.sell_stop(order_type, stop, limit))
            cid = placed.client_order_id
            assert (placed.status, placed.order_type) == (OrderStatus.NEW, order_type)
            found = await venue.get_order(self.symbol, cid)
            assert found is not None
            assert (found.order_type, found.side, found.stop_price) == (order_type, Side.SELL, stop)
            assert found.quantity == self.qty
            assert cid in [o.client_order_id for o in await venue.get_open_orders(self.symbol)]
            await self.feed_price(venue, self.price * Decimal("0.95"))  # above the stop
            still = await venue.get_order(self.symbol, cid)
            assert still is not None
            assert still.status is OrderStatus.NEW
            await self.feed_price(venue, self.price * Decimal("0.896"))  # through it
            done = await venue.get_order(self.symbol, cid)
            assert done is not None
            assert done.status is OrderStatus.FILLED
            fills = [f for f in await venue.get_fills(self.symbol) if f.client_order_id == cid]
            assert sum(f.quantity for f in fills) == self.qty
            assert all(f.side is Side.SELL and limit <= f.price <= stop for f in fills)
            assert cid not in [o.client_order_id for o in await venue.get_open_orders()]

    async def test_spot_sell_stop_can_be_cancelled(self, venue: Any) -> None:
        if not self.spot_stops:
            pytest.skip("no exchange-side spot stop on this venue")
        await venue.place_order(self.intent())
        stop, limit = self.price * Decimal("0.9"), self.price * Decimal("0.89")
        for order_type in self.spot_stops:
            placed = await venue.place_order(self.sell_stop(order_type, stop, limit))
            canceled = await venue.cancel_order(self.symbol, placed.client_order_id)
            assert canceled.status is OrderStatus.CANCELED
            found = await venue.get_order(self.symbol, placed.client_order_id)
            assert found is not None
            assert found.status is OrderStatus.CANCELED
            assert await venue.get_open_orders(self.symbol) == []

"""The fake Binance forgets old final orders and trades, so a long sandbox run stays bounded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kinetic.venues.fakes.binance_state import FINAL_ORDERS_KEPT, TRADES_KEPT, ApiError, Book


def _market(book: Book, n: int) -> None:
    side = "BUY" if n % 2 == 0 else "SELL"
    q = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.001"}
    book.new_order({**q, "newClientOrderId": f"m{n}"}, now_ms=n)


def test_final_orders_beyond_the_window_are_forgotten_while_open_ones_stay() -> None:
    book = Book(futures=False)
    book.fund(Decimal(10**9))
    book.set_price("BTCUSDT", Decimal(50000), 0)
    resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001"}
    book.new_order({**resting, "price": "10000", "newClientOrderId": "rest"}, now_ms=0)
    total = FINAL_ORDERS_KEPT + TRADES_KEPT + 500
    for n in range(total):
        _market(book, n)

    assert len(book.orders) == FINAL_ORDERS_KEPT + 1  # the newest final ones and the open one
    assert book.find({"origClientOrderId": "rest"}).status == "NEW"
    assert book.find({"origClientOrderId": f"m{total - 1}"}).status == "FILLED"
    with pytest.raises(ApiError) as gone:
        book.find({"origClientOrderId": "m0"})
    assert gone.value.code == -2013
    assert TRADES_KEPT <= len(book.trades) <= 2 * TRADES_KEPT
    assert book.trades[-1]["orderId"] == book.find({"origClientOrderId": f"m{total - 1}"}).order_id

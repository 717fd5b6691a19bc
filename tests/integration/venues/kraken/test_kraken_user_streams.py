"""Kraken private streams against the fake servers: Spot WS v2 ``executions`` and
Futures WS v1 ``open_orders``/``fills`` (challenge auth). Time is a ``ManualClock``:
tests poll conditions with a wall-clock deadline and step the fake clock for back-off.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import structlog

from kinetic.clock import ManualClock
from kinetic.domain import Fill, Order, OrderStatus, OrderType, Side
from kinetic.logging import configure_logging
from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
from kinetic.venues.fakes.kraken_server import FakeKrakenSpot
from kinetic.venues.kraken.futures import KrakenFuturesClient
from kinetic.venues.kraken.spot import KrakenSpotClient
from kinetic.venues.kraken.user_events import parse_execution, rfc3339_ms
from kinetic.venues.kraken.user_streams import KrakenFuturesUserStream, KrakenSpotUserStream

KEY = "user-stream-key"
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
WRONG = "c2VjcmV0LXRoYXQtaXMtd3Jvbmctc2VjcmV0LXRoYXQtaXMtd3Jvbmc="
D = Decimal


async def until(cond: Callable[[], object], *clocks: ManualClock, step: float = 0.0) -> None:
    """Poll ``cond`` (stepping the fake clocks by ``step`` per turn) with a 5 s deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met before the deadline")
        for clock in clocks:
            clock.advance(step)
        await asyncio.sleep(0.005)


class Sink:
    """Collects what a stream delivers."""

    def __init__(self) -> None:
        self.orders: list[Order] = []
        self.fills: list[Fill] = []

    async def order(self, order: Order) -> None:
        self.orders.append(order)

    async def fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def last(self, cid: str) -> Order | None:
        return next((o for o in reversed(self.orders) if o.client_order_id == cid), None)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Capture JSON logs; restore structlog and the root logger afterwards."""
    stream = io.StringIO()
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG", json=True, stream=stream)
    yield stream
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def spot() -> AsyncIterator[tuple[FakeKrakenSpot, KrakenSpotClient, ManualClock]]:
    clock = ManualClock()
    srv = FakeKrakenSpot(KEY, SECRET, clock)
    await srv.start()
    client = KrakenSpotClient(clock, api_key=KEY, api_secret=SECRET, base_url=srv.base_url)
    yield srv, client, clock
    await client.close()
    await srv.stop()


@pytest.fixture
async def futures() -> AsyncIterator[tuple[FakeKrakenFutures, ManualClock]]:
    clock = ManualClock()
    srv = FakeKrakenFutures(KEY, SECRET, clock)
    await srv.start()
    yield srv, clock
    await srv.stop()


def spot_stream(
    srv: FakeKrakenSpot, client: KrakenSpotClient, clock: ManualClock, sink: Sink, **kw: Any
) -> KrakenSpotUserStream:
    return KrakenSpotUserStream(
        client, clock, sink.order, sink.fill, ws_url=srv.ws_url + "/v2-auth", **kw
    )


def futures_stream(
    srv: FakeKrakenFutures, clock: ManualClock, sink: Sink, secret: str = SECRET
) -> KrakenFuturesUserStream:
    client = KrakenFuturesClient(clock, api_key=KEY, api_secret=secret, base_url=srv.base_url)
    return KrakenFuturesUserStream(
        client, clock, sink.order, sink.fill, ws_url=srv.ws_url + "/ws/v1"
    )


def add_spot_order(srv: FakeKrakenSpot, cid: str, price: str = "30000") -> str:
    result = srv.priv_AddOrder(
        {
            "pair": "XBTUSDT",
            "type": "buy",
            "ordertype": "limit",
            "volume": "0.01",
            "price": price,
            "cl_ord_id": cid,
        }
    )
    return str(result["txid"][0])


def add_futures_order(srv: FakeKrakenFutures, cid: str) -> str:
    result = srv.ep_sendorder(
        {
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "orderType": "lmt",
            "size": "0.5",
            "limitPrice": "50000",
            "cliOrdId": cid,
        }
    )
    return str(result["sendStatus"]["order_id"])


# ---------------------------------------------------------------------- Spot


async def test_spot_order_update_and_fill_have_the_domain_fields(spot: Any) -> None:
    srv, client, clock = spot
    sink = Sink()
    stream = spot_stream(srv, client, clock, sink)
    stream.start()
    try:
        await until(lambda: stream.subscribed == 1, clock)
        txid = add_spot_order(srv, "cid-1")
        await srv.flush_executions()
        await until(lambda: sink.last("cid-1") is not None, clock)
        new = sink.last("cid-1")
        assert new is not None
        assert new.status is OrderStatus.NEW
        assert (new.symbol, new.side, new.order_type) == ("BTCUSDT", Side.BUY, OrderType.LIMIT)
        assert (new.quantity, new.price, new.venue_order_id) == (D("0.01"), D("30000"), txid)
        srv.set_price("XBTUSDT", "29990")
        await srv.flush_executions()
        await until(lambda: sink.fills, clock)
    finally:
        await stream.stop()
    fill = sink.fills[0]
    assert (fill.client_order_id, fill.symbol, fill.side) == ("cid-1", "BTCUSDT", Side.BUY)
    assert (fill.quantity, fill.price, fill.fee, fill.fee_asset) == (
        D("0.01"),
        D("29990"),
        D(0),
        "USDT",
    )
    assert fill.trade_id.startswith("T")
    assert fill.is_maker
    assert fill.ts_ms == int(clock.time() * 1000)
    done = sink.last("cid-1")
    assert done is not None
    assert done.status is OrderStatus.FILLED
    assert (done.filled_qty, done.avg_price) == (D("0.01"), D("29990"))
    assert not stream.running


async def test_spot_dropped_connection_reconnects_with_a_new_token(spot: Any) -> None:
    srv, client, clock = spot
    sink = Sink()
    stream = spot_stream(srv, client, clock, sink)
    stream.start()
    try:
        await until(lambda: stream.subscribed == 1, clock)
        add_spot_order(srv, "cid-a", price="31000")
        srv.set_price("XBTUSDT", "30500")  # fills cid-a at once
        await srv.flush_executions()
        await until(lambda: len(sink.fills) == 1, clock)
        await srv.drop_ws()
        await until(lambda: stream.subscribed == 2, clock, step=1.0)
        add_spot_order(srv, "cid-b", price="29000")
        await srv.flush_executions()
        await until(lambda: sink.last("cid-b") is not None, clock)
    finally:
        await stream.stop()
    assert stream.connects == 2
    assert len(srv.ws_token_uses) == 2
    assert len(set(srv.ws_token_uses)) == 2
    assert len(sink.fills) == 1  # the snapshot repeated the fill; delivered once


async def test_spot_malformed_messages_are_logged_and_skipped(spot: Any, logs: io.StringIO) -> None:
    srv, client, clock = spot
    sink = Sink()
    stream = spot_stream(srv, client, clock, sink, yield_every=1)
    stream.start()
    try:
        await until(lambda: stream.subscribed == 1, clock)
        await srv.push_raw("{not json")
        await srv.push(
            "executions",
            [{"exec_type": "new", "order_id": "X", "order_qty": "lots", "order_type": "limit"}],
        )
        await srv.push(
            "executions",
            [
                {
                    "order_id": "Y",
                    "order_status": "weird",
                    "order_qty": 1,
                    "order_type": "limit",
                    "symbol": "BTC/USDT",
                    "side": "buy",
                }
            ],
        )
        add_spot_order(srv, "cid-ok")
        await srv.flush_executions()
        await until(lambda: sink.last("cid-ok") is not None, clock)
    finally:
        await stream.stop()
    assert [o.client_order_id for o in sink.orders] == ["cid-ok"]
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    skipped = [x for x in lines if x["event"].startswith("malformed ws")]
    assert len(skipped) == 3
    assert {x["venue"] for x in skipped} == {"kraken"}
    assert {x["channel"] for x in skipped} == {"?", "executions"}


async def test_spot_silent_socket_is_detected_on_the_clock(spot: Any) -> None:
    srv, client, clock = spot
    stream = spot_stream(
        srv, client, clock, Sink(), ping_interval_seconds=5, silence_timeout_seconds=20
    )
    stream.start()
    try:
        await until(lambda: stream.subscribed == 1, clock)
        srv.mute_current_sockets()
        await until(lambda: stream.subscribed == 2, clock, step=5.0)
    finally:
        await stream.stop()
    assert stream.connects == 2


FIRST_EXEC = {
    "exec_type": "new",
    "order_id": "O1",
    "cl_ord_id": "c",
    "symbol": "ETH/USD",
    "side": "sell",
    "order_type": "limit",
    "order_qty": 2,
    "limit_price": 3000,
    "order_status": "new",
    "timestamp": "2024-01-02T03:04:05.123456789Z",
}
TRADE_EXEC = {
    "exec_type": "trade",
    "order_id": "O1",
    "exec_id": "T9",
    "last_qty": 0.5,
    "last_price": 3001,
    "cum_qty": 0.5,
    "avg_price": 3001,
    "order_status": "partially_filled",
    "liquidity_ind": "t",
    "fees": [{"asset": "USD", "qty": 0.75}],
    "timestamp": "2024-01-02T03:04:06Z",
}


def test_partial_execution_update_is_merged_into_the_known_order() -> None:
    order, fill = parse_execution(FIRST_EXEC, None, lambda _n: None)
    assert order is not None
    assert fill is None
    assert order.created_ms == rfc3339_ms("2024-01-02T03:04:05.123Z")
    merged, fill = parse_execution(TRADE_EXEC, order, lambda _n: None)
    assert merged is not None
    assert fill is not None
    assert (merged.symbol, merged.side, merged.status) == (
        "ETHUSD",
        Side.SELL,
        OrderStatus.PARTIALLY_FILLED,
    )
    assert (fill.symbol, fill.side, fill.fee, fill.fee_asset, fill.is_maker) == (
        "ETHUSD",
        Side.SELL,
        D("0.75"),
        "USD",
        False,
    )
    assert (fill.client_order_id, fill.trade_id) == ("c", "T9")
    unknown, _ = parse_execution({"exec_type": "canceled", "order_id": "O2"}, None, lambda _n: None)
    assert unknown is None


# ---------------------------------------------------------------------- Futures


async def test_futures_order_update_and_fill_have_the_domain_fields(futures: Any) -> None:
    srv, clock = futures
    sink = Sink()
    stream = futures_stream(srv, clock, sink)
    stream.start()
    try:
        await until(lambda: stream.subscribed == 2, clock)  # open_orders, fills
        oid = add_futures_order(srv, "f-1")
        await srv.push_order(oid)
        await until(lambda: sink.last("f-1") is not None, clock)
        new = sink.last("f-1")
        assert new is not None
        assert new.status is OrderStatus.NEW
        assert (new.symbol, new.side, new.order_type) == ("BTCUSD", Side.BUY, OrderType.LIMIT)
        assert (new.quantity, new.price, new.venue_order_id) == (D("0.5"), D("50000"), oid)
        srv.set_price("PF_XBTUSD", "49950")
        await srv.push_new_fills()
        await until(lambda: sink.fills, clock)
        await srv.push_order(oid, is_cancel=True, reason="full_fill")
        await until(lambda: sink.last("f-1").status is OrderStatus.FILLED, clock)  # type: ignore[union-attr]
    finally:
        await stream.stop()
    fill = sink.fills[0]
    assert (fill.client_order_id, fill.symbol, fill.side) == ("f-1", "BTCUSD", Side.BUY)
    assert (fill.quantity, fill.price, fill.fee, fill.fee_asset) == (
        D("0.5"),
        D("49950"),
        D("0.05"),
        "USD",
    )
    assert fill.trade_id == srv.fills[0]["fill_id"]
    assert fill.is_maker
    done = sink.last("f-1")
    assert done is not None
    assert (done.filled_qty, done.avg_price) == (D("0.5"), D("49950"))


async def test_futures_dropped_connection_reconnects_with_a_new_challenge(
    futures: Any,
) -> None:
    srv, clock = futures
    sink = Sink()
    stream = futures_stream(srv, clock, sink)
    stream.start()
    try:
        await until(lambda: stream.subscribed == 2, clock)
        await srv.drop_ws()
        await until(lambda: stream.subscribed == 4, clock, step=1.0)
        oid = add_futures_order(srv, "f-2")
        await srv.push_order(oid)
        await until(lambda: sink.last("f-2") is not None, clock)
        clock.advance(30)  # the watchdog pings (a WS ping frame, at least every 60 s)
        await until(lambda: srv.ws_pings >= 1, clock)
    finally:
        await stream.stop()
    assert stream.connects == 2
    assert len(srv.challenges) == 2
    assert len(set(srv.signed_challenges)) == 2


async def test_futures_malformed_messages_are_logged_and_skipped(
    futures: Any, logs: io.StringIO
) -> None:
    srv, clock = futures
    sink = Sink()
    stream = futures_stream(srv, clock, sink)
    stream.start()
    try:
        await until(lambda: stream.subscribed == 2, clock)
        await srv.push_raw("[1, 2")
        await srv.push_feed(
            "open_orders", {"order": {"instrument": "PF_XBTUSD", "qty": "x"}, "is_cancel": False}
        )
        await srv.push_feed(
            "fills",
            {"fills": [{"instrument": "PF_XBTUSD", "buy": "yes"}]},
        )
        oid = add_futures_order(srv, "f-ok")
        await srv.push_order(oid)
        await until(lambda: sink.last("f-ok") is not None, clock)
    finally:
        await stream.stop()
    assert [o.client_order_id for o in sink.orders] == ["f-ok"]
    assert not sink.fills
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    skipped = [x for x in lines if x["event"].startswith("malformed ws")]
    assert {(x["venue"], x["channel"]) for x in skipped} == {
        ("kraken_futures", "?"),
        ("kraken_futures", "open_orders"),
        ("kraken_futures", "fills"),
    }


async def test_secrets_tokens_and_signed_challenges_never_reach_the_logs(
    spot: Any, futures: Any, logs: io.StringIO
) -> None:
    ssrv, sclient, sclock = spot
    fsrv, fclock = futures
    s_stream = spot_stream(ssrv, sclient, sclock, Sink())
    f_stream = futures_stream(fsrv, fclock, Sink())
    bad = futures_stream(fsrv, fclock, Sink(), secret=WRONG)
    for stream in (s_stream, f_stream, bad):
        stream.start()
    try:
        await until(lambda: s_stream.subscribed == 1 and f_stream.subscribed == 2, sclock)
        await ssrv.drop_ws()
        await fsrv.drop_ws()
        await until(
            lambda: (
                s_stream.subscribed == 2 and f_stream.subscribed == 4 and fsrv.auth_failures >= 4
            ),
            sclock,
            fclock,
            step=1.0,
        )
    finally:
        for stream in (s_stream, f_stream, bad):
            await stream.stop()
    text = logs.getvalue()
    assert "user stream failed" in text
    assert "user stream subscribed" in text
    assert len(fsrv.signed_challenges) >= 2
    assert ssrv.ws_token_uses
    for secret in (SECRET, WRONG, *ssrv.ws_token_uses, *fsrv.signed_challenges):
        assert secret not in text

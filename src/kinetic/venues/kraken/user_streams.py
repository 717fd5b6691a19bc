"""Kraken private streams: order updates and fills as domain ``Order``s and ``Fill``s.

* Spot (``KrakenSpotUserStream``): WS v2 ``wss://ws-auth.kraken.com/v2``, channel
  ``executions`` with a token from ``GetWebSocketsToken`` (a fresh one per connection:
  tokens must be used within 15 minutes). The snapshot carries the open orders and the
  last 50 fills (``snap_trades``), so fills made while disconnected are recovered.
  Updates may be partial; they are merged into the last known state of the order.
* Futures (``KrakenFuturesUserStream``): WS v1 ``wss://futures.kraken.com/ws/v1``.
  ``{"event": "challenge", "api_key": ...}`` is answered with a UUID that is signed
  (``sign_challenge``) and sent as ``original_challenge`` + ``signed_challenge`` with
  every private subscription (``open_orders``, ``fills``); a new challenge per connection.

Both: one owned, named task (``start()``/``stop()``); a watchdog on the injected clock
pings every ``ping_interval_seconds`` (Spot ``{"method": "ping"}``, Futures a WebSocket
ping frame, at most every 60 s as Kraken requires) and drops a socket silent for
``silence_timeout_seconds``; reconnects back off exponentially with jitter on the clock
(reset once subscribed); a malformed message or entry is logged (venue, channel) and
skipped; the loop yields every ``yield_every`` messages. Fills are de-duplicated by
trade id within one stream instance (snapshots repeat them); consumers should still
treat ``trade_id`` as the idempotency key. Tokens, API secrets and signed challenges
are never logged (raw messages are never logged: Kraken echoes the signed challenge).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from kinetic.clock import Clock
from kinetic.domain import ZERO, Fill, Order, OrderStatus
from kinetic.logging import REDACTOR, get_logger
from kinetic.tasks import cancel_and_wait
from kinetic.venues.base.errors import AuthError, VenueError
from kinetic.venues.kraken.futures import KrakenFuturesClient
from kinetic.venues.kraken.schemas import SchemaError, field, obj
from kinetic.venues.kraken.signing import sign_challenge
from kinetic.venues.kraken.spot import KrakenSpotClient
from kinetic.venues.kraken.streams import DEFAULT_AUTH_WS_URL
from kinetic.venues.kraken.user_events import (
    PARSE_ERRORS,
    cancel_status,
    parse_execution,
    parse_futures_fill,
    parse_futures_order,
)

OrderHandler = Callable[[Order], Awaitable[None]]
FillHandler = Callable[[Fill], Awaitable[None]]
SymbolLookup = Callable[[str], str | None]
DEFAULT_FUTURES_WS_URL = "wss://futures.kraken.com/ws/v1"
_MAX_FUTURES_PING_SECONDS = 60.0
_REMEMBERED = 5000
_PARSE_ERRORS = PARSE_ERRORS


class _Remembered(OrderedDict[str, Any]):
    """A bounded insertion-ordered map (oldest entries are forgotten)."""

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``, evicting the oldest entry beyond the bound."""
        self[key] = value
        self.move_to_end(key)
        while len(self) > _REMEMBERED:
            self.popitem(last=False)


class _KrakenUserStream:
    """Connect, handshake, read, watchdog and reconnect with backoff; one owned task."""

    venue = "kraken"

    def __init__(
        self,
        clock: Clock,
        on_order: OrderHandler,
        on_fill: FillHandler | None,
        *,
        ws_url: str,
        name: str,
        ping_interval_seconds: float,
        silence_timeout_seconds: float,
        backoff_base_seconds: float,
        backoff_cap_seconds: float,
        yield_every: int,
        rng: random.Random | None,
    ) -> None:
        self._clock, self._on_order, self._on_fill = clock, on_order, on_fill
        self.ws_url, self.name = ws_url, name
        self._ping, self._silence = ping_interval_seconds, silence_timeout_seconds
        self._backoff = (backoff_base_seconds, backoff_cap_seconds)
        self._yield_every = max(1, yield_every)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._task: asyncio.Task[None] | None = None
        self._last_rx = 0.0
        self.connects = 0
        self.subscribed = 0
        self._orders = _Remembered()
        self._fills = _Remembered()
        self._log = get_logger(venue=self.venue, component=name)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the owned task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self.name)
            self._task.add_done_callback(self._on_done)

    async def stop(self) -> None:
        """Cancel the task and wait for it (its session is closed on the way out)."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    @property
    def running(self) -> bool:
        """Return whether the task is alive."""
        return self._task is not None and not self._task.done()

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error("user stream task died", error_type=type(task.exception()).__name__)

    async def _run(self) -> None:
        attempt = 0
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    if await self._connection(session):
                        attempt = 0
                except (aiohttp.ClientError, OSError, TimeoutError, VenueError) as exc:
                    self._log.warning(
                        "user stream failed", error_type=type(exc).__name__, error=str(exc)
                    )
                await self._clock.sleep(self._delay(attempt))
                attempt += 1

    def _delay(self, attempt: int) -> float:
        base, cap = self._backoff
        ceiling = min(cap, base * 2.0 ** min(attempt, 30))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    async def _connection(self, session: aiohttp.ClientSession) -> bool:
        """Run one connection; return whether it got as far as a subscription."""
        await self._prepare()
        before = self.subscribed
        async with session.ws_connect(self.ws_url, autoping=False) as ws:
            self.connects += 1
            self._last_rx = self._clock.time()
            await self._open(ws)
            await self._read(ws)
        return self.subscribed > before

    # ------------------------------------------------------------------ reading

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        watchdog = asyncio.create_task(self._watch(ws), name=f"{self.name}-watchdog")
        try:
            count = 0
            async for msg in ws:
                self._last_rx = self._clock.time()
                count += 1
                if count % self._yield_every == 0:
                    await asyncio.sleep(0)
                if msg.type is aiohttp.WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type is aiohttp.WSMsgType.TEXT:
                    await self._on_text(ws, msg.data)
        finally:
            await cancel_and_wait(watchdog)

    async def _on_text(self, ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            self._log.warning("malformed ws message skipped", channel="?", error_type="json")
            return
        if not isinstance(msg, dict):
            self._log.warning("malformed ws message skipped", channel="?", error_type="shape")
            return
        await self._dispatch(ws, msg)

    async def _watch(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await self._clock.sleep(self._ping)
            if self._clock.time() - self._last_rx > self._silence:
                self._log.warning("user stream silent; reconnecting")
                await ws.close()
                return
            await self._send_ping(ws)

    def _skip(self, channel: str, exc: Exception) -> None:
        """Log a malformed entry by venue and channel (never the raw payload)."""
        self._log.warning(
            "malformed ws entry skipped",
            channel=channel,
            error_type=type(exc).__name__,
            error=str(exc)[:200],
        )

    # ------------------------------------------------------------------ delivery

    async def _deliver(self, order: Order | None, fill: Fill | None) -> None:
        if order is not None and order.venue_order_id:
            self._orders.put(order.venue_order_id, order)
        if fill is not None and fill.trade_id not in self._fills:
            self._fills.put(fill.trade_id, True)
            if self._on_fill is not None:
                await self._call(self._on_fill, fill)
        if order is not None:
            await self._call(self._on_order, order)

    async def _call(self, handler: Callable[[Any], Awaitable[None]], item: Any) -> None:
        try:
            await handler(item)
        except Exception as exc:  # a consumer bug must not kill the venue stream
            self._log.error("user stream handler failed", error_type=type(exc).__name__)

    # ------------------------------------------------------------------ venue hooks

    async def _prepare(self) -> None:
        """Fetch what a connection needs before it opens (e.g. a token)."""

    async def _open(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        raise NotImplementedError

    async def _dispatch(self, ws: aiohttp.ClientWebSocketResponse, msg: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _send_ping(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------------- Spot


class KrakenSpotUserStream(_KrakenUserStream):
    """Kraken Spot order updates and fills from the WS v2 ``executions`` channel."""

    def __init__(
        self,
        client: KrakenSpotClient,
        clock: Clock,
        on_order: OrderHandler,
        on_fill: FillHandler | None = None,
        *,
        ws_url: str = DEFAULT_AUTH_WS_URL,
        name: str = "kraken-spot-user",
        ping_interval_seconds: float = 10.0,
        silence_timeout_seconds: float = 30.0,
        backoff_base_seconds: float = 1.0,
        backoff_cap_seconds: float = 60.0,
        yield_every: int = 20,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            clock,
            on_order,
            on_fill,
            ws_url=ws_url,
            name=name,
            ping_interval_seconds=ping_interval_seconds,
            silence_timeout_seconds=silence_timeout_seconds,
            backoff_base_seconds=backoff_base_seconds,
            backoff_cap_seconds=backoff_cap_seconds,
            yield_every=yield_every,
            rng=rng,
        )
        self._client = client
        self._token = ""

    async def _prepare(self) -> None:
        self._token = await self._client.get_ws_token()  # registered with the redactor

    async def _open(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        params = {
            "channel": "executions",
            "token": self._token,
            "snap_orders": True,
            "snap_trades": True,
            "order_status": True,
        }
        await ws.send_json({"method": "subscribe", "params": params})

    async def _send_ping(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.send_json({"method": "ping"})

    async def _dispatch(self, ws: aiohttp.ClientWebSocketResponse, msg: dict[str, Any]) -> None:
        if msg.get("method") == "subscribe":
            self._on_ack(msg)
        elif msg.get("channel") == "executions":
            await self._on_executions(msg.get("data"))

    def _on_ack(self, msg: dict[str, Any]) -> None:
        if not msg.get("success"):
            # The error text is Kraken's (e.g. "EAccount:Invalid token"); no token in it.
            raise AuthError(
                f"kraken executions subscribe refused: {msg.get('error')}", venue=self.venue
            )
        self.subscribed += 1
        self._log.info("user stream subscribed", channel="executions")

    async def _on_executions(self, data: Any) -> None:
        if not isinstance(data, list):
            self._skip("executions", SchemaError("data is not a list"))
            return
        for raw in data:
            try:
                known = self._orders.get(str(obj(raw, "execution").get("order_id")))
                order, fill = parse_execution(raw, known, self._client.symbol_of)
            except _PARSE_ERRORS as exc:
                self._skip("executions", exc)
                continue
            await self._deliver(order, fill)


# ---------------------------------------------------------------------- Futures


class KrakenFuturesUserStream(_KrakenUserStream):
    """Kraken Futures order updates (``open_orders``) and fills (``fills``) over WS v1."""

    venue = "kraken_futures"
    FEEDS = ("open_orders", "fills")

    def __init__(
        self,
        client: KrakenFuturesClient,
        clock: Clock,
        on_order: OrderHandler,
        on_fill: FillHandler | None = None,
        *,
        ws_url: str = DEFAULT_FUTURES_WS_URL,
        name: str = "kraken-futures-user",
        api_key: str | None = None,
        api_secret: str | None = None,
        ping_interval_seconds: float = 30.0,
        silence_timeout_seconds: float = 90.0,
        backoff_base_seconds: float = 1.0,
        backoff_cap_seconds: float = 60.0,
        yield_every: int = 20,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            clock,
            on_order,
            on_fill,
            ws_url=ws_url,
            name=name,
            ping_interval_seconds=min(ping_interval_seconds, _MAX_FUTURES_PING_SECONDS),
            silence_timeout_seconds=silence_timeout_seconds,
            backoff_base_seconds=backoff_base_seconds,
            backoff_cap_seconds=backoff_cap_seconds,
            yield_every=yield_every,
            rng=rng,
        )
        # Defaults to the client's own credentials (same package; no public accessor).
        self._key = api_key if api_key is not None else client._key
        self._secret = api_secret if api_secret is not None else client._secret
        REDACTOR.add([self._key, self._secret])
        self._avg: _Remembered = _Remembered()

    async def _open(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        if not self._key or not self._secret:
            raise AuthError(
                "kraken futures user stream needs an API key and secret", venue=self.venue
            )
        await ws.send_json({"event": "challenge", "api_key": self._key})

    async def _send_ping(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.ping()

    async def _dispatch(self, ws: aiohttp.ClientWebSocketResponse, msg: dict[str, Any]) -> None:
        event, feed = msg.get("event"), msg.get("feed")
        if event is not None:
            await self._on_event(ws, str(event), msg)
        elif feed in ("open_orders_snapshot", "open_orders"):
            await self._on_orders(msg)
        elif feed in ("fills_snapshot", "fills"):
            await self._on_fills(msg.get("fills"))

    async def _on_event(
        self, ws: aiohttp.ClientWebSocketResponse, event: str, msg: dict[str, Any]
    ) -> None:
        if event == "challenge":
            await self._subscribe(ws, str(msg.get("message") or ""))
        elif event == "subscribed" and msg.get("feed") in self.FEEDS:
            self.subscribed += 1
            self._log.info("user stream subscribed", channel=str(msg.get("feed")))
        elif event in ("error", "subscribed_failed", "alert"):
            # Only Kraken's message text: the echo of the request may carry the signature.
            raise AuthError(
                f"kraken futures ws {event}: {str(msg.get('message'))[:120]}", venue=self.venue
            )

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse, challenge: str) -> None:
        if not challenge:
            raise AuthError("kraken futures ws: empty challenge", venue=self.venue)
        signed = sign_challenge(self._secret, challenge)
        for feed in self.FEEDS:
            await ws.send_json(
                {
                    "event": "subscribe",
                    "feed": feed,
                    "api_key": self._key,
                    "original_challenge": challenge,
                    "signed_challenge": signed,
                }
            )
        await ws.send_json({"event": "subscribe", "feed": "heartbeat"})

    async def _on_orders(self, msg: dict[str, Any]) -> None:
        try:
            if msg.get("feed") == "open_orders_snapshot":
                orders = msg.get("orders")
                if not isinstance(orders, list):
                    raise SchemaError("orders is not a list")
                parsed = [self._with_avg(parse_futures_order(o)) for o in orders]
            else:
                parsed = [self._order_delta(msg)]
        except _PARSE_ERRORS as exc:
            self._skip(str(msg.get("feed")), exc)
            return
        for order in parsed:
            await self._deliver(order, None)

    def _order_delta(self, msg: dict[str, Any]) -> Order | None:
        order = parse_futures_order(msg["order"]) if msg.get("order") else None
        if not msg.get("is_cancel"):
            return self._with_avg(order)
        oid = str(order.venue_order_id if order else field(msg, "order_id"))
        base = order or self._orders.get(oid)
        if base is None:
            self._log.info("cancel for an unknown order ignored", channel="open_orders")
            return None
        done = dataclasses.replace(base, status=cancel_status(str(msg.get("reason", ""))))
        if done.status is OrderStatus.FILLED:
            done.filled_qty = done.quantity
        return self._with_avg(done)

    def _with_avg(self, order: Order | None) -> Order | None:
        if order is None or not order.venue_order_id:
            return order
        qty, notional = self._avg.get(order.venue_order_id, (ZERO, ZERO))
        if qty > 0:
            order.avg_price = notional / qty
        return order

    async def _on_fills(self, fills: Any) -> None:
        if not isinstance(fills, list):
            self._skip("fills", SchemaError("fills is not a list"))
            return
        for raw in fills:
            try:
                fill = parse_futures_fill(raw)
                oid = str(obj(raw, "fill").get("order_id") or "")
            except _PARSE_ERRORS as exc:
                self._skip("fills", exc)
                continue
            if fill is not None and oid and fill.trade_id not in self._fills:
                qty, notional = self._avg.get(oid, (ZERO, ZERO))
                self._avg.put(oid, (qty + fill.quantity, notional + fill.quantity * fill.price))
            await self._deliver(None, fill)

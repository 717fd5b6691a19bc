"""Binance private (user data) streams, delivering order updates as domain ``Order``s.

* USD-M: a ``listenKey`` from ``POST /fapi/v1/listenKey`` (kept alive with ``PUT``
  every 30 min; a -1125 answer gets a new key) on
  ``/private/ws?listenKey=<k>&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE``.
* Spot: listenKeys are gone (2026-02-20); the WS API request
  ``userDataStream.subscribe.signature`` (HMAC-signed, no logon) subscribes a session,
  whose events arrive as ``{"subscriptionId": n, "event": {...}}``.

Both reconnect with backoff on the injected clock. Their tasks are named, owned and
cancelled by ``stop()``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any

import aiohttp

from kinetic.clock import Clock
from kinetic.domain import Order, Side
from kinetic.logging import REDACTOR, get_logger
from kinetic.tasks import cancel_and_wait
from kinetic.venues.base.errors import AuthError, VenueError
from kinetic.venues.binance.rest import BinanceRest
from kinetic.venues.binance.schemas import ORDER_STATUS, ORDER_TYPES, SchemaError
from kinetic.venues.binance.signing import ws_signed_params
from kinetic.venues.http import RetryPolicy

OrderHandler = Callable[[Order], Awaitable[None]]
FUTURES_PRIVATE_URL = "wss://fstream.binance.com/private/ws"
SPOT_WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"


def parse_order_event(event: Any) -> Order | None:
    """Parse ``executionReport`` (spot) or ``ORDER_TRADE_UPDATE`` (USD-M); else ``None``."""
    if not isinstance(event, dict):
        return None
    kind = event.get("e")
    o = event.get("o") if kind == "ORDER_TRADE_UPDATE" else event
    if kind not in ("executionReport", "ORDER_TRADE_UPDATE") or not isinstance(o, dict):
        return None
    status, otype = ORDER_STATUS.get(str(o.get("X"))), ORDER_TYPES.get(str(o.get("o")))
    if status is None or otype is None:
        raise SchemaError(f"unsupported order event {o.get('X')}/{o.get('o')}")
    filled = Decimal(str(o["z"]))
    avg = (
        Decimal(str(o["ap"]))
        if "ap" in o
        else (Decimal(str(o.get("Z", 0))) / filled if filled else Decimal(0))
    )
    return Order(
        str(o["c"]),
        str(o["s"]),
        Side(str(o["S"])),
        otype,
        Decimal(str(o["q"])),
        status,
        Decimal(str(o.get("p", 0))) or None,
        None,
        bool(o.get("R", False)),
        str(o["i"]),
        filled,
        avg,
        updated_ms=int(event.get("E", 0)),
    )


class _UserStream:
    """Shared loop: connect, read events, reconnect with backoff; owned tasks."""

    def __init__(
        self, clock: Clock, on_order: OrderHandler, name: str, retry: RetryPolicy | None
    ) -> None:
        self.clock, self.on_order, self.name = clock, on_order, name
        self.retry = retry or RetryPolicy(max_attempts=1_000_000, base_seconds=1, cap_seconds=60)
        self.connects = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._log = get_logger(component=name)

    def start(self) -> None:
        """Start the owned tasks."""
        if not self._tasks:
            self._spawn(self._run(), self.name)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_done)
        self._tasks.append(task)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error(
                "user stream task died", task=task.get_name(), error=type(task.exception()).__name__
            )

    async def stop(self) -> None:
        """Cancel the tasks and close the session."""
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession()
        failures = 0
        while True:
            try:
                await self._connection(self._session)
                failures = 0
            except (aiohttp.ClientError, TimeoutError, VenueError) as exc:
                self._log.warning("user stream failed", error=type(exc).__name__)
                failures += 1
            await self.clock.sleep(self.retry.delay(min(failures, 10)))

    async def _connection(self, session: aiohttp.ClientSession) -> None:
        raise NotImplementedError

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            try:
                data = json.loads(msg.data)
                order = parse_order_event(data.get("event", data))
            except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                self._log.warning("malformed user event skipped", error=str(exc))
                continue
            if order is not None:
                await self.on_order(order)


class FuturesUserStream(_UserStream):
    """USD-M order updates over a listenKey stream on the ``/private`` route."""

    def __init__(
        self,
        rest: BinanceRest,
        clock: Clock,
        on_order: OrderHandler,
        *,
        url: str = FUTURES_PRIVATE_URL,
        keepalive_seconds: float = 1800,
        retry: RetryPolicy | None = None,
        name: str = "binance-usdm-user",
    ) -> None:
        super().__init__(clock, on_order, name, retry)
        self.rest, self.url, self.keepalive_seconds = rest, url, keepalive_seconds
        self.listen_key = ""

    def start(self) -> None:
        """Start the connection and the keepalive tasks."""
        if not self._tasks:
            super().start()
            self._spawn(self._keepalive(), f"{self.name}-keepalive")

    async def _connection(self, session: aiohttp.ClientSession) -> None:
        self.listen_key = await self._new_key()
        url = f"{self.url}?listenKey={self.listen_key}&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE"
        async with session.ws_connect(url, heartbeat=60) as ws:
            self.connects += 1
            await self._read(ws)

    async def _new_key(self) -> str:
        data = await self.rest.public("POST", "/fapi/v1/listenKey")
        key = str(data["listenKey"])
        REDACTOR.add([key])
        return key

    async def _keepalive(self) -> None:
        while True:
            await self.clock.sleep(self.keepalive_seconds)
            try:
                await self.rest.public("PUT", "/fapi/v1/listenKey")
            except VenueError as exc:  # -1125: the key is gone; the next connect makes one
                self._log.warning("listenKey keepalive failed", error=type(exc).__name__)


class SpotUserStream(_UserStream):
    """Spot order updates via WS API ``userDataStream.subscribe.signature``."""

    def __init__(
        self,
        clock: Clock,
        on_order: OrderHandler,
        *,
        api_key: str,
        api_secret: str,
        url: str = SPOT_WS_API_URL,
        retry: RetryPolicy | None = None,
        name: str = "binance-spot-user",
    ) -> None:
        super().__init__(clock, on_order, name, retry)
        REDACTOR.add([api_key, api_secret])
        self.url, self._key, self._secret = url, api_key, api_secret

    async def _connection(self, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(self.url, heartbeat=20) as ws:
            params = ws_signed_params(
                self._secret, {"apiKey": self._key, "timestamp": self.clock.time_ms()}
            )
            await ws.send_str(
                json.dumps(
                    {
                        "id": "sub-1",
                        "params": params,
                        "method": "userDataStream.subscribe.signature",
                    }
                )
            )
            answer = json.loads((await ws.receive(timeout=10)).data)
            if answer.get("status") != 200:
                raise AuthError(
                    f"{self.name}: subscribe refused ({answer.get('error', {}).get('code')})",
                    venue="binance",
                )
            self.connects += 1
            await self._read(ws)

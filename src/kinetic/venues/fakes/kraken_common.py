"""Shared plumbing of the fake Kraken servers: 127.0.0.1 runner, faults, WS sockets."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict, deque
from typing import Any

from aiohttp import web

from kinetic.clock import Clock, ManualClock
from kinetic.venues.fakes.tape import Tape


class FakeServerBase:
    """An aiohttp app on 127.0.0.1 with a random port, fault queues and WS bookkeeping."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.app = web.Application()
        self.clock: Clock = clock or ManualClock()
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.pending_after: dict[str, str] = {}
        self.sockets: set[web.WebSocketResponse] = set()
        self.silent = False
        self.muted: set[web.WebSocketResponse] = set()
        self.ws_ohlc: list[dict[str, Any]] = []
        self.executions: list[dict[str, Any]] = []
        self.ws_connects = 0
        self._hang = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self.tape: Tape | None = None  # the sandbox's candle tape
        self.tape_names: dict[str, str] = {}  # venue symbol -> tape symbol
        self.tape_seen: dict[str, int] = {}

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Return ``ws://127.0.0.1:<port>``."""
        return f"ws://{self.host}:{self.port}"

    def clock_time(self) -> float:
        """Return the server's notion of now (the injected clock)."""
        return self.clock.time()

    def fail(self, method: str, fault: str, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` calls of ``method``."""
        self.faults[method].extend([fault] * times)

    def take_fault(self, method: str) -> str | None:
        """Pop the next queued fault for ``method`` (or for any method: ``"*"``)."""
        queue = self.faults.get(method) or self.faults.get("*")
        return queue.popleft() if queue else None

    async def _after_accept(
        self, method: str, request: web.Request, response: web.StreamResponse
    ) -> web.StreamResponse:
        fault = self.pending_after.pop(method, None)
        if fault == "disconnect_after_accept" and request.transport is not None:
            request.transport.abort()
        elif fault == "timeout_after_accept":
            await self._hang.wait()
        return response

    def mute_current_sockets(self) -> None:
        """Make the open sockets go silent (no pongs, no data); new ones behave."""
        self.muted |= self.sockets

    async def drop_ws(self) -> None:
        """Close every open WebSocket (a dropped connection)."""
        for ws in list(self.sockets):
            await ws.close()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeServerBase:
        """Listen on ``host`` (loopback) with ``port`` (0: a random free port)."""
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        self.host = host
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Release hung handlers, close sockets and stop listening."""
        self._hang.set()
        await self.drop_ws()
        if self._runner is not None:
            await self._runner.cleanup()

"""Live dashboard feed over Server-Sent Events: ``GET /api/live``.

One owned task (``api:live``) builds the daemon's state once per tick (or at once when a
trade or event is recorded) and hands the same encoded message to every connected
stream; a slow client only ever holds the newest message (a queue of one). A new stream
first gets ``hello``: the equity history since the daemon started and the current state.

The equity history is bounded: past ``history_points`` it keeps every other point and
samples half as often, so it always spans the whole run at a bounded size. Recent
trades and events come from the recorder's listener hook (``DbRecorder.listeners``),
bounded too; each of them wakes the producer (a burst coalesced into one message), so a
kill switch shows at once. The wire format is plain SSE (``event:`` / ``data:`` lines), so
``EventSource`` or a ``fetch`` reader (which can send the API token header) both work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from kinetic.api import snapshot
from kinetic.clock import Clock
from kinetic.domain import ClosedTrade, Fill
from kinetic.logging import get_logger
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.tasks import cancel_and_wait

MAX_STREAMS = 32
RECENT_TRADES = 50
RECENT_EVENTS = 30
COALESCE_S = 0.05  # after a wake-up, wait this long so a burst of events is one message

OrchestratorSource = Callable[[], Orchestrator | None]


def sse(event: str, data: Any) -> bytes:
    """One SSE message (``data`` JSON-encoded on one line)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class LiveHub:
    """The state feed: one producer task, any number (up to ``MAX_STREAMS``) of streams."""

    def __init__(
        self,
        source: OrchestratorSource,
        clock: Clock,
        *,
        mode: str = "replay",
        interval_s: float = 1.0,
        history_points: int = 2000,
    ) -> None:
        self._source = source
        self._clock = clock
        self.mode = mode
        self.interval_s = interval_s
        self._max_points = max(16, history_points)
        self.history: list[list[float]] = []  # [market time s, equity, drawdown %]
        self._stride = 1
        self._ticks = 0
        self.trades: deque[dict[str, Any]] = deque(maxlen=RECENT_TRADES)
        self.events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self._streams: set[asyncio.Queue[bytes | None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, Any] | None = None
        self._closed = False
        self.log = get_logger(component="api.live")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the producer task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="api:live")
            self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("live feed stopped", error=repr(task.exception()))

    async def stop(self) -> None:
        """End every stream, then the producer."""
        await self.close_streams()
        await cancel_and_wait(self._task)
        self._task = None

    async def close_streams(self, _app: web.Application | None = None) -> None:
        """End every open stream (an aiohttp ``on_shutdown`` hook: no handler hangs)."""
        self._closed = True
        for queue in list(self._streams):
            _offer(queue, None)

    # ------------------------------------------------------------------ producer
    async def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception as exc:  # one bad read must not end the feed
                self.log.exception("live state failed", error=repr(exc))
            sleeper = asyncio.ensure_future(self._clock.sleep(self.interval_s))
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_and_wait(sleeper, woken)
            if self._wake.is_set():  # a trade or event: show it now, with its burst
                await self._clock.sleep(COALESCE_S)
                self._wake.clear()

    def tick(self) -> None:
        """Build the state, sample the equity history, push to every stream."""
        state = self.state()
        if state is None:
            return
        self._sample(state)
        if self._closed:
            return
        message = sse("state", state)
        for queue in list(self._streams):
            _offer(queue, message)

    def _sample(self, state: dict[str, Any]) -> None:
        self._ticks += 1
        point = state["point"]
        if self.history and point[0] <= self.history[-1][0]:
            return  # the market clock has not moved (paused replay): nothing new
        if self._ticks % self._stride and self.history:
            return
        self.history.append(point)
        if len(self.history) > self._max_points:
            self.history = self.history[::2]
            self._stride *= 2

    def state(self) -> dict[str, Any] | None:
        """The whole dashboard state now (None until the daemon is built)."""
        orch = self._source()
        if orch is None:
            return None
        engines = snapshot.engines(orch)
        market_s = next(iter(engines.values())).d.clock.time() if engines else self._clock.time()
        totals = snapshot.totals(orch)
        by_engine, by_asset = snapshot.exposure_by(orch)
        state = {
            "ts": round(self._clock.time(), 3),
            "market_ts": round(market_s, 3),
            "mode": self.mode,
            "summary": {k: round(v, 6) for k, v in asdict(totals).items()},
            "risk": snapshot.risk(orch),
            "engines": snapshot.engine_cards(orch),
            "exposure": {"by_engine": by_engine, "by_asset": by_asset},
            "positions": snapshot.positions(orch),
            "orders": snapshot.open_orders(orch),
            "trades": list(self.trades),
            "events": list(self.events),
            "point": [round(market_s, 3), round(totals.equity, 4), round(totals.drawdown_pct, 4)],
        }
        self._last = state
        return state

    # ------------------------------------------------------------------ recorder hooks
    def on_fill(self, engine: str, fill: Fill) -> None:
        """A fill changes positions and orders: show it with the next message, now."""
        self._wake.set()

    def on_trade(self, trade: ClosedTrade) -> None:
        self.trades.appendleft({
            "engine": trade.engine, "symbol": trade.symbol, "side": str(trade.side),
            "quantity": float(trade.quantity), "entry_price": float(trade.entry_price),
            "exit_price": float(trade.exit_price), "opened_ms": trade.opened_ms,
            "closed_ms": trade.closed_ms, "pnl": float(trade.pnl), "fees": float(trade.fees),
            "reason": trade.exit_reason, "leverage": trade.leverage,
        })  # fmt: skip
        self._wake.set()

    def on_event(
        self, kind: str, message: str, engine: str | None, data: dict[str, Any] | None
    ) -> None:
        self.events.appendleft(
            {"ts": round(self._clock.time(), 3), "kind": kind, "engine": engine,
             "message": message[:300]}
        )  # fmt: skip
        self._wake.set()

    # ------------------------------------------------------------------ HTTP
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/live``: an SSE stream of ``hello`` then ``state`` messages."""
        if self._closed:
            raise web.HTTPServiceUnavailable(text="shutting down")
        if len(self._streams) >= MAX_STREAMS:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"data": None, "error": "too many live streams"}),
                content_type="application/json",
            )
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        })  # fmt: skip
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        self._streams.add(queue)
        try:
            await resp.prepare(request)
            state = self._last or self.state()
            await resp.write(sse("hello", {"history": self.history, "state": state}))
            while (message := await queue.get()) is not None:
                await resp.write(message)
        except (ConnectionResetError, ConnectionError):
            pass  # the browser went away
        finally:
            self._streams.discard(queue)
        return resp

    @property
    def streams(self) -> int:
        return len(self._streams)


def _offer(queue: asyncio.Queue[bytes | None], message: bytes | None) -> None:
    """Put ``message``, dropping an older one the client has not read yet."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(message)

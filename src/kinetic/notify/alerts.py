"""Alerts out of the event stream: which recorded things are worth a message, and the queue.

``AlertFeed`` is a ``RecordListener`` the composition root adds to the recorder. It
formats the events an operator should hear about (fills, stops hit, protection,
breakers, trading states, engine restarts, drift, start/stop) into one line each and
appends them to an ``AlertQueue``: bounded, drop-oldest, never waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from kinetic.domain import ClosedTrade, Fill

MAX_ALERT_CHARS = 1000

# event kind -> the mark its alert line starts with; kinds not listed are not alerted
EVENT_MARKS: dict[str, str] = {
    # start / stop
    "started": "▶️",
    "shutdown": "⏹",
    # trading states and operator actions
    "trading_state": "🚦",
    "kill_switch": "🛑",
    "flatten": "🧹",
    "engine_entries": "⏸",  # pause / resume (ControlService)
    "engine_enabled": "🔌",
    "cancel_all": "🧹",
    "config_change": "⚙️",  # runtime risk overlay
    # breakers
    "circuit_breaker": "⚡",
    "drawdown_cleared": "✅",
    "close_all": "🧹",
    # engine supervision
    "engine_crash": "💥",
    "engine_stalled": "⏳",
    "engine_restart": "🔁",
    "engine_stopped": "🛑",
    "venue_halt": "🛑",
    # protection
    "unprotected": "⚠️",
    "stop_replaced": "🛡",
    "stop_missing": "⚠️",
    "near_liquidation": "⚠️",
    "close_failed": "⚠️",
    "close_abandoned": "🚨",
    "journal_unwritable": "🚨",
    "journal_recovered": "✅",
    "invariant": "🚨",
    "invariant_cleared": "✅",
    "takeover": "🔎",
    # drift
    "drift": "⚠️",
    "drift_resolved": "✅",
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One line for the operator."""

    kind: str
    text: str
    engine: str | None = None


class AlertQueue:
    """Bounded FIFO of alerts: ``put`` never waits; when full the oldest is dropped."""

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be >= 1")
        self.maxlen = maxlen
        self._items: deque[Alert] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0  # alerts lost to a full queue, since start
        self.accepted = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, alert: Alert) -> None:
        """Append ``alert``; drop (and count) the oldest when the queue is full."""
        if len(self._items) >= self.maxlen:
            self._items.popleft()
            self.dropped += 1
        self._items.append(alert)
        self.accepted += 1
        self._ready.set()

    async def wait(self) -> None:
        """Return once the queue holds at least one alert, or is closed."""
        while not self._items and not self.closed:
            self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        """Wake the consumer for the last time: ``wait`` returns even when empty."""
        self.closed = True
        self._ready.set()

    def take(self, max_chars: int) -> list[Alert]:
        """Remove and return the oldest alerts whose lines fit in ``max_chars`` (at least one)."""
        out: list[Alert] = []
        used = 0
        while self._items:
            size = len(self._items[0].text) + 1
            if out and used + size > max_chars:
                break
            out.append(self._items.popleft())
            used += size
        return out


class AlertFeed:
    """The recorder's listener: alert-worthy records become lines in ``queue``."""

    def __init__(self, queue: AlertQueue, *, fills: bool = True) -> None:
        self.queue = queue
        self.fills = fills

    def on_event(self, kind: str, message: str, engine: str | None, data: dict[str, Any]) -> None:
        mark = EVENT_MARKS.get(kind)
        if mark is None or (kind == "takeover" and data.get("action") == "completed"):
            return
        self.queue.put(Alert(kind, _line(mark, engine, f"{kind}: {message}"), engine))

    def on_fill(self, engine: str, fill: Fill) -> None:
        if not self.fills:
            return
        text = (f"fill {fill.side} {fill.quantity} {fill.symbol} @ {fill.price}"
                f" (fee {fill.fee} {fill.fee_asset}"
                f"{', reduce-only' if fill.reduce_only else ''})")  # fmt: skip
        self.queue.put(Alert("fill", _line("💱", engine, text), engine))

    def on_trade(self, trade: ClosedTrade) -> None:
        stop = "stop" in trade.exit_reason
        head = "STOP HIT" if stop else "trade closed"
        text = (f"{head} {trade.symbol} {trade.side} {trade.quantity} "
                f"{trade.entry_price} -> {trade.exit_price}, PnL {trade.pnl:+.2f} "
                f"({trade.exit_reason})")  # fmt: skip
        kind = "stop_hit" if stop else "trade"
        self.queue.put(Alert(kind, _line("🛑" if stop else "📕", trade.engine, text), trade.engine))


def _line(mark: str, engine: str | None, text: str) -> str:
    line = f"{mark} [{engine or 'daemon'}] {text}"
    return line if len(line) <= MAX_ALERT_CHARS else line[: MAX_ALERT_CHARS - 1] + "…"

"""Reversals waiting for their close to fill (one-bar reversal, futures).

A signal to the opposite side closes the position and opens the new side in the same
step. When the close's fill is not known by the end of ``send`` (a live venue that
reports the fill later), the new side waits here: the next monitor step that finds the
position closed opens it, provided no newer candle has arrived for the symbol since the
signal (a newer candle brings a newer decision from the strategy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kinetic.domain import Candle, Signal
from kinetic.marketdata.store import CandleStore


@dataclass(slots=True)
class PendingReversals:
    """Per symbol, the signal (and its candle) whose new side waits for the close."""

    waiting: dict[str, tuple[Signal, Candle]] = field(default_factory=dict)

    def wait(self, symbol: str, signal: Signal, candle: Candle) -> None:
        self.waiting[symbol] = (signal, candle)

    def drop(self, symbol: str) -> None:
        self.waiting.pop(symbol, None)

    def due(self, positions: Mapping[str, Any], store: CandleStore) -> list[tuple[Signal, Candle]]:
        """Reversals whose close has filled; stale ones (a newer candle) are dropped."""
        if not self.waiting:
            return []
        out: list[tuple[Signal, Candle]] = []
        for symbol, (signal, candle) in list(self.waiting.items()):
            last = store.last(symbol)
            if last is None or last.open_time_ms != candle.open_time_ms:
                del self.waiting[symbol]  # a newer candle: the strategy decides again
            elif symbol not in positions:
                del self.waiting[symbol]
                out.append((signal, candle))
        return out

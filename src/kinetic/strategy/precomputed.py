"""A symbol's state in a backtest as its series' per-bar values and the next bar's index
(``spot_trend``, ``futures_regime``; ``confluence`` keeps its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from kinetic.domain import Candle
    from kinetic.marketdata.files import CandleArrays

V = TypeVar("V")


@dataclass(slots=True)
class Precomputed(Generic[V]):
    """One symbol's state in a backtest: its series' per-bar values and the next bar.

    Bars ``0..cursor-1`` of ``arrays`` have been fed (stepped or fast-forwarded); the
    incremental state after them is only built when a candle or a stretch arrives that
    is not ``arrays``' bar ``cursor`` (the strategies' ``_materialise``).
    """

    arrays: CandleArrays
    values: V | None  # None once every bar was fed
    cursor: int = 0

    def move(self, cursor: int) -> None:
        """Bars up to ``cursor`` are fed; past the last one the values are let go."""
        self.cursor = cursor
        if cursor >= len(self.arrays):
            self.values = None

    def is_next(self, c: Candle) -> bool:
        """True when ``c`` is bar ``cursor`` of ``arrays`` (the values on_candle reads)."""
        a, i = self.arrays, self.cursor
        return (
            i < len(a) and c.open_time_ms == a.open_time_ms.item(i)
            and c.close == a.close.item(i) and c.high == a.high.item(i)
            and c.low == a.low.item(i) and c.open == a.open.item(i)
        )  # fmt: skip

"""The engine's periodic drift check: compare its books with the venue, act on drift.

Run from the monitor step (under the engine's step lock, after the fill sync) every
``drift_check_interval_seconds`` of the engine's clock. A difference must show on two
checks in a row before it counts: a fill the venue has reported but the engine has not
synced yet is a race, not drift. Counted drift is logged and recorded as a ``drift``
event; in live mode with ``kill_switch_on_drift`` it moves the engine to REDUCE_ONLY
(no new risk; exits and protection go on) until an operator clears it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from kinetic.domain import TradingState
from kinetic.portfolio.drift import Drift, book_view, compare, read_venue_view
from kinetic.venues.base.errors import TransientError

if TYPE_CHECKING:
    from kinetic.engines.base import BaseEngine


@dataclass
class DriftChecker:
    """Interval, debounce and the last result of one engine's drift checks.

    ``halt_on_drift`` acts only on a live engine (``EngineDeps.extra["live"]``): replay and
    paper run against the SimExchange, where drift means a bug, not a venue surprise.
    """

    interval_s: float
    tolerance_pct: float
    halt_on_drift: bool
    next_due_s: float = 0.0
    pending: frozenset[str] = frozenset()
    current: list[Drift] = field(default_factory=list)
    checks: int = 0

    @property
    def drifting(self) -> bool:
        return bool(self.current)

    async def maybe_check(self, engine: BaseEngine) -> None:
        """Check when due; never raise on a transient venue error (next time will do)."""
        now = engine.d.clock.time()
        if self.interval_s <= 0 or now < self.next_due_s:
            return
        self.next_due_s = now + self.interval_s
        try:
            found = await self.check(engine)
        except TransientError as exc:
            engine.log.warning("drift check skipped: venue unavailable", error=str(exc))
            return
        await self._act(engine, found)

    async def check(self, engine: BaseEngine) -> list[Drift]:
        """One comparison of the books with the venue (no debounce, no action)."""
        d = engine.d
        self.checks += 1
        bases = {s: d.instruments[s].base for s in d.symbols if s in d.instruments}
        venue = await read_venue_view(
            d.venue, engine.market, d.positions.quote, bases, d.oms.ids.ours
        )
        book = book_view(d.positions.cash, d.positions.positions.values(), d.oms.open_orders())

        def step(symbol: str) -> Decimal:
            inst = d.instruments.get(symbol)
            return inst.step_size if inst is not None else Decimal(0)

        return compare(
            book, venue, engine.market, cash_tolerance_pct=self.tolerance_pct, qty_tolerance=step
        )

    async def _act(self, engine: BaseEngine, found: list[Drift]) -> None:
        keys = frozenset(x.describe() for x in found)
        confirmed = [x for x in found if x.describe() in self.pending]
        self.pending = keys
        was = self.drifting
        self.current = confirmed
        if not confirmed:
            if was:
                engine.log.info("drift resolved")
                await engine.d.recorder.record_event(
                    "drift_resolved", "books match the venue again", engine.name
                )
            return
        lines = "; ".join(x.describe() for x in confirmed)
        engine.log.error("drift between books and venue", differences=lines)
        await engine.d.recorder.record_event(
            "drift",
            lines,
            engine.name,
            {"differences": [x.describe() for x in confirmed]},
        )
        if self.halt_on_drift and engine.d.extra.get("live"):
            await engine.d.gate.escalate(
                engine.name, TradingState.REDUCE_ONLY, f"drift: {lines}", "drift"
            )

"""Invariant monitor (seed 002): checks that must always hold, run every supervision step.

* **position count**: an engine holds at most its configured ``*_max_positions``;
* **margin utilisation**: a futures engine's reserved margin stays within
  ``invariant_max_margin_pct`` of its equity;
* **equity**: an engine's equity is not negative (beyond it lies liquidation);
* **protection**: every futures position has a resting reduce-only stop for its whole
  size; one that has lacked it for longer than the grace period is a violation (the
  engine's protection monitor re-places or closes; this is the second line);
* **journal writable**: a small write to the database succeeds.

A violation is logged, recorded once as an ``invariant`` event (again only after it
cleared and came back) and moves the engine (journal: every engine) to REDUCE_ONLY via
the state gate: exits and protection go on, nothing new is opened, until an operator
clears the state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from config import UnifiedConfig
from kinetic.clock import Clock
from kinetic.domain import ZERO, MarketType, OrderType, TradingState
from kinetic.engines.base import BaseEngine
from kinetic.engines.gate import StateGate
from kinetic.execution.recorder import Recorder
from kinetic.logging import get_logger

JOURNAL = "journal"


@dataclass(frozen=True, slots=True)
class Violation:
    engine: str
    kind: str
    detail: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.engine, self.kind, self.detail.split(":", 1)[0])


class InvariantMonitor:
    """Evaluate the invariants over the engines; act on new violations."""

    def __init__(
        self,
        config: UnifiedConfig,
        clock: Clock,
        gate: StateGate,
        recorder: Recorder,
        journal_probe: Callable[[], Awaitable[None]] | None = None,
        grace_s: float = 10.0,
    ) -> None:
        self.config = config
        self.clock = clock
        self.gate = gate
        self.recorder = recorder
        self.journal_probe = journal_probe
        self.grace_s = grace_s
        self.active: dict[tuple[str, str, str], Violation] = {}
        self._unprotected_since: dict[tuple[str, str], float] = {}
        self.log = get_logger(component="invariants")

    async def check(self, engines: Iterable[BaseEngine]) -> list[Violation]:
        """Run every invariant once; return the violations that hold now."""
        engines = list(engines)
        found: list[Violation] = []
        for engine in engines:
            found.extend(self.engine_violations(engine))
        found.extend(await self._journal(engines))
        await self._act(found)
        return found

    def engine_violations(self, engine: BaseEngine) -> list[Violation]:
        """The invariants of one engine that do not hold now."""
        out: list[Violation] = []
        pm = engine.d.positions
        limit = (
            self.config.spot_max_positions
            if engine.market is MarketType.SPOT
            else self.config.futures_max_positions
        )
        if len(pm.positions) > limit:
            out.append(Violation(engine.name, "position_count", f"{len(pm.positions)} > {limit}"))
        equity = engine.equity()
        if equity < 0:
            out.append(Violation(engine.name, "equity", f"equity {equity} < 0"))
        if engine.market is MarketType.FUTURES:
            out.extend(self._margin(engine, equity))
            out.extend(self._protection(engine))
        return out

    def _margin(self, engine: BaseEngine, equity: Decimal) -> list[Violation]:
        used = engine.exposure()
        limit = Decimal(str(self.config.invariant_max_margin_pct))
        if used <= 0 or (equity > 0 and used * 100 <= equity * limit):
            return []
        pct = used * 100 / equity if equity > 0 else Decimal("Infinity")
        detail = f"margin {pct:.1f}% of equity > {limit}%"
        return [Violation(engine.name, "margin", detail)]

    def _protection(self, engine: BaseEngine) -> list[Violation]:
        now = self.clock.time()
        out: list[Violation] = []
        held = engine.d.positions.positions
        for key in [k for k in self._unprotected_since if k[0] == engine.name]:
            if key[1] not in held:
                del self._unprotected_since[key]
        for symbol, pos in held.items():
            covered = sum(
                (
                    o.remaining
                    for o in engine.d.oms.open_orders(symbol)
                    if o.reduce_only and o.order_type is OrderType.STOP_MARKET
                ),
                ZERO,
            )
            key = (engine.name, symbol)
            if covered >= pos.quantity:
                self._unprotected_since.pop(key, None)
                continue
            since = self._unprotected_since.setdefault(key, now)
            if now - since > self.grace_s:
                detail = f"{symbol}: stop covers {covered} of {pos.quantity} for {now - since:.0f}s"
                out.append(Violation(engine.name, "unprotected", detail))
        return out

    async def _journal(self, engines: list[BaseEngine]) -> list[Violation]:
        if self.journal_probe is None:
            return []
        try:
            await self.journal_probe()
        except Exception as exc:  # any storage failure means the journal cannot be trusted
            return [Violation(e.name, JOURNAL, f"journal not writable: {exc!r}") for e in engines]
        return []

    async def _act(self, found: list[Violation]) -> None:
        now_keys = {v.key for v in found}
        for key in [k for k in self.active if k not in now_keys]:
            cleared = self.active.pop(key)
            self.log.info("invariant holds again", engine=cleared.engine, kind=cleared.kind)
            await self._record("invariant_cleared", cleared)
        for v in found:
            if v.key in self.active:
                continue
            self.active[v.key] = v
            self.log.error("invariant violated", engine=v.engine, kind=v.kind, detail=v.detail)
            await self._record("invariant", v)
            await self.gate.escalate(
                v.engine, TradingState.REDUCE_ONLY, f"invariant {v.kind}: {v.detail}", "invariant"
            )

    async def _record(self, kind: str, v: Violation) -> None:
        if v.kind == JOURNAL:
            return  # the journal is what failed: the log line is the record
        try:
            await self.recorder.record_event(kind, f"{v.kind}: {v.detail}", v.engine)
        except Exception as exc:  # never let the audit write stop the checks
            self.log.error("invariant event not recorded", error=repr(exc))

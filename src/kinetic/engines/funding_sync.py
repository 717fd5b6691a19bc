"""Live futures: apply the funding payments the venue booked to the engine's books.

The venue moves the wallet by every funding payment; the books (``PositionManager``)
follow through ``apply_funding`` (cash, funding and realized PnL), so the drift check
compares like with like. Payments are read from the venue client
(``ReportsFunding.get_funding_payments``: Binance USD-M income history, Kraken Futures
account log; see docs/venues/) from a checkpoint kept in the
database (``installation`` key ``funding_ms:<engine>``): the time of the last applied
payment, the ids applied at that time (the next read starts there, inclusive) and the
running total since the checkpoint was created.

Each new payment is applied once: dedup by the venue's id, journaled as an event
``funding`` (symbol, amount, id, ts_ms), then the checkpoint moves past it. At start-up
the sync runs before the cash is taken from the venue: the payments booked while the
daemon was down reach the journal and realized PnL, and the wallet read right after
sets the cash (it holds them already). Until a start has succeeded, each start reloads
the checkpoint and adds its total to realized PnL (which the takeover has just restored
from closed trades).

The first start with no checkpoint begins now: older payments are in the wallet the
cash comes from. Paper and replay do not run this (the SimExchange charges no funding
outside backtests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kinetic.domain import FundingPayment
from kinetic.venues.base.errors import TransientError
from kinetic.venues.base.protocols import ReportsFunding

if TYPE_CHECKING:
    from kinetic.engines.base import BaseEngine


@runtime_checkable
class FundingCheckpoints(Protocol):
    """Where the checkpoint lives (the recorder: DbRecorder, MemoryRecorder)."""

    async def funding_checkpoint(self, engine: str) -> str | None: ...

    async def save_funding_checkpoint(self, engine: str, value: str) -> None: ...


@dataclass
class Checkpoint:
    """The last applied payment's time, the ids applied at that time, the total applied."""

    ms: int
    ids: list[str] = field(default_factory=list)
    total: Decimal = Decimal(0)

    def dump(self) -> str:
        return json.dumps({"ms": self.ms, "ids": self.ids, "total": str(self.total)})

    @classmethod
    def load(cls, raw: str) -> Checkpoint:
        data = json.loads(raw)
        return cls(int(data["ms"]), [str(i) for i in data.get("ids", [])], Decimal(data["total"]))

    def advance(self, payment: FundingPayment) -> None:
        if payment.ts_ms > self.ms:
            self.ms, self.ids = payment.ts_ms, []
        self.ids.append(payment.id)
        self.total += payment.amount


@dataclass
class FundingSync:
    """Interval and checkpoint of one live futures engine's funding sync."""

    interval_s: float
    next_due_s: float = 0.0
    applied: int = 0  # payments applied by this process
    _mark: Checkpoint | None = None

    @staticmethod
    def supported(engine: BaseEngine) -> bool:
        """The engine's venue lists funding and its recorder keeps the checkpoint."""
        d = engine.d
        return isinstance(d.venue, ReportsFunding) and isinstance(d.recorder, FundingCheckpoints)

    async def startup(self, engine: BaseEngine) -> None:
        """Apply what was booked while down (before the cash is read); errors propagate."""
        if self.interval_s <= 0 or not self.supported(engine):
            return
        if not engine.ready:  # the takeover has just restored realized PnL from trades
            self._mark = None
        await self.sync(engine)
        self.next_due_s = engine.d.clock.time() + self.interval_s

    async def maybe_sync(self, engine: BaseEngine) -> None:
        """Sync when due; a transient venue error waits for the next interval."""
        now = engine.d.clock.time()
        if self.interval_s <= 0 or now < self.next_due_s or not self.supported(engine):
            return
        self.next_due_s = now + self.interval_s
        try:
            await self.sync(engine)
        except TransientError as exc:
            engine.log.warning("funding sync skipped: venue unavailable", error=str(exc))

    async def sync(self, engine: BaseEngine) -> int:
        """Apply the payments booked since the checkpoint; return how many were new."""
        d = engine.d
        store = d.recorder
        venue = d.venue
        assert isinstance(store, FundingCheckpoints)
        assert isinstance(venue, ReportsFunding)
        mark = await self._checkpoint(engine, store)
        new = 0
        for payment in await venue.get_funding_payments(mark.ms):
            if payment.ts_ms < mark.ms or (payment.ts_ms == mark.ms and payment.id in mark.ids):
                continue
            d.positions.apply_funding(payment.amount)
            await d.recorder.record_event(
                "funding",
                f"{payment.symbol} funding {payment.amount}",
                engine.name,
                {
                    "symbol": payment.symbol,
                    "amount": str(payment.amount),
                    "id": payment.id,
                    "ts_ms": payment.ts_ms,
                },
            )
            mark.advance(payment)
            await store.save_funding_checkpoint(engine.name, mark.dump())
            new += 1
        if new:
            self.applied += new
            engine.log.info("funding applied", payments=new, total=str(mark.total))
        return new

    async def _checkpoint(self, engine: BaseEngine, store: FundingCheckpoints) -> Checkpoint:
        """Load at the first start (adding the total to realized PnL), else create."""
        if self._mark is not None:
            return self._mark
        raw = await store.funding_checkpoint(engine.name)
        if raw is None:
            mark = Checkpoint(engine.d.clock.time_ms())
            await store.save_funding_checkpoint(engine.name, mark.dump())
        else:
            mark = Checkpoint.load(raw)
            positions = engine.d.positions
            positions.realized_pnl += mark.total
            positions.funding = mark.total
        self._mark = mark
        return mark

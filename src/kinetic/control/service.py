"""ControlService: the operator's kill switch, flatten and status, over the orchestrator.

* ``kill_switch(True, reason)``: the daemon goes HALTED (nothing new is sent), every
  engine cancels its entry and take-profit orders; protective stops stay on the venue.
* ``kill_switch(False, reason)``: the operator's clear, every scope (or one engine) back
  to ACTIVE. It also ends a drawdown hold (the orchestrator re-bases the peak).
* ``flatten(reason)``: HALTED scopes step down to REDUCE_ONLY so exits may be sent, the
  daemon is held REDUCE_ONLY (cause ``flatten``) and every engine closes every position
  reduce-only; the orchestrator retries each monitor step until all are flat. An
  engine's close keeps its stop resting until the close has filled.

Every call records an event and returns a ``CommandResult`` whose ``message`` is the one
line the operator sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kinetic.domain import TradingState
from kinetic.logging import get_logger
from kinetic.supervisor.trading_states import DAEMON, OPERATOR, EventSink, TradingStates

FLATTEN_CAUSE = "flatten"
KILL_SWITCH_CAUSE = "kill switch"


class Supervised(Protocol):
    """What the service needs of the orchestrator."""

    @property
    def engines(self) -> Mapping[str, Any]: ...

    @property
    def states(self) -> TradingStates: ...

    async def request_close_all(self, reason: str) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did: one line for the operator, details for the API."""

    ok: bool
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class ControlService:
    """The one place operator commands are carried out."""

    def __init__(self, supervisor: Supervised, events: EventSink) -> None:
        self.sup = supervisor
        self.events = events
        self.log = get_logger(component="control")

    @property
    def states(self) -> TradingStates:
        return self.sup.states

    # ------------------------------------------------------------------ kill switch
    async def kill_switch(
        self, active: bool, reason: str = "", *, by: str = OPERATOR, engine: str | None = None
    ) -> CommandResult:
        """Switch the kill switch on (HALTED, entries cancelled) or off (clear)."""
        if active:
            return await self._kill_on(reason or "operator request", by)
        return await self._kill_off(reason or "operator request", by, engine)

    async def _kill_on(self, reason: str, by: str) -> CommandResult:
        await self.states.escalate(
            DAEMON, TradingState.HALTED, f"{KILL_SWITCH_CAUSE}: {reason}", by
        )
        cancelled: dict[str, int] = {}
        failed: dict[str, str] = {}
        for name, engine in self.sup.engines.items():
            try:
                cancelled[name] = await cancel_entries(engine)
            except Exception as exc:  # the others still cancel; reported, not hidden
                failed[name] = repr(exc)
                self.log.error("kill switch: cancelling entries failed", engine=name,
                               error=repr(exc))  # fmt: skip
        total = sum(cancelled.values())
        per = ", ".join(f"{n} {c}" for n, c in cancelled.items())
        message = (f"kill switch ON: daemon HALTED; cancelled {total} entry/take-profit "
                   f"orders ({per}); stops kept")  # fmt: skip
        if failed:
            message += "; cancel FAILED on " + ", ".join(f"{n} ({e})" for n, e in failed.items())
        data = {"active": True, "reason": reason, "by": by, "cancelled": cancelled,
                "failed": failed}  # fmt: skip
        await self.events.record_event("kill_switch", message, None, data)
        return CommandResult(not failed, message, data)

    async def _kill_off(self, reason: str, by: str, engine: str | None) -> CommandResult:
        if engine is not None and engine not in self.sup.engines:
            known = ", ".join(self.sup.engines)
            return CommandResult(False, f"unknown engine {engine!r} (known: {known})")
        scopes = [engine] if engine is not None else list(self.states.snapshot())
        cleared = [s for s in scopes if await self.states.clear(s, by=by, reason=reason)]
        message = (f"kill switch OFF: {', '.join(cleared)} back to ACTIVE" if cleared
                   else "kill switch OFF: nothing to clear (already ACTIVE)")  # fmt: skip
        data = {"active": False, "reason": reason, "by": by, "cleared": cleared}
        await self.events.record_event("kill_switch", message, None, data)
        return CommandResult(True, message, data)

    # ------------------------------------------------------------------ flatten
    async def flatten(self, reason: str = "", *, by: str = OPERATOR) -> CommandResult:
        """Close every position of every engine (reduce-only); hold the daemon REDUCE_ONLY."""
        reason = reason or "operator flatten"
        for scope, own in self.states.snapshot().items():
            if own.state is TradingState.HALTED:  # HALTED sends no exit: step down to close
                await self.states.clear(scope, by=by, reason=FLATTEN_CAUSE,
                                        to=TradingState.REDUCE_ONLY)  # fmt: skip
        await self.states.escalate(DAEMON, TradingState.REDUCE_ONLY, FLATTEN_CAUSE, by)
        closed = await self.sup.request_close_all(reason)
        still = {n: open_positions(e) for n, e in self.sup.engines.items()}
        still = {n: c for n, c in still.items() if c}
        per = ", ".join(f"{n} {c}" for n, c in closed.items())
        message = f"flatten: closed {sum(closed.values())} positions ({per}); daemon REDUCE_ONLY"
        left = ", ".join(f"{n} {c}" for n, c in still.items())
        message += f"; still open: {left} (retried every monitor step)" if still else "; all flat"
        data = {"reason": reason, "by": by, "closed": closed, "still_open": still}
        await self.events.record_event("flatten", message, None, data)
        return CommandResult(True, message, data)

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """Every scope's own state and each engine's effective one, and open positions."""
        snap = self.states.snapshot()
        engines = {
            name: {**self.states.own(name).as_dict(), "effective": str(self.states.state(name)),
                   "open_positions": open_positions(engine)}
            for name, engine in self.sup.engines.items()
        }  # fmt: skip
        daemon = snap[DAEMON]
        return {
            "daemon": daemon.as_dict(),
            "kill_switch": daemon.state is TradingState.HALTED
            and daemon.cause.startswith(KILL_SWITCH_CAUSE),
            "engines": engines,
        }


async def cancel_entries(engine: Any) -> int:
    """Cancel ``engine``'s entry and take-profit orders; protective stops stay.

    Uses the engine's own ``cancel_entries`` when it has one; otherwise cancels every
    open order without a stop price (entries, take-profit limits), holding the engine's
    step lock so no step interleaves.
    """
    own = getattr(engine, "cancel_entries", None)
    if own is not None:
        return int(await own())
    oms = engine.d.oms
    lock = getattr(engine, "_step_lock", None)
    if lock is None:
        return await _cancel_non_stops(oms)
    async with lock:
        return await _cancel_non_stops(oms)


async def _cancel_non_stops(oms: Any) -> int:
    count = 0
    for order in oms.open_orders():
        if order.stop_price is not None:  # a stop (futures stop-market, spot stop-limit)
            continue
        await oms.cancel(order.client_order_id)
        count += 1
    return count


def open_positions(engine: Any) -> int:
    """How many positions ``engine`` holds (its snapshot's count)."""
    return int(engine.snapshot().open_positions)

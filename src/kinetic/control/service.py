"""ControlService: the operator's kill switch, flatten and status, over the orchestrator.

* ``kill_switch(True, reason)``: the daemon goes HALTED (nothing new is sent), every
  engine cancels its entry and take-profit orders; protective stops stay on the venue.
* ``kill_switch(False, reason)``: the operator's clear, every scope (or one engine) back
  to ACTIVE. It also ends a drawdown hold (the orchestrator re-bases the peak).
* ``flatten(reason)``: HALTED scopes step down to REDUCE_ONLY so exits may be sent, the
  daemon is held REDUCE_ONLY (cause ``flatten``) and every engine closes every position
  reduce-only; the orchestrator retries each monitor step until all are flat. An
  engine's close keeps its stop resting until the close has filled.

* ``set_entries_paused(engine, paused)``: pause (REDUCE_ONLY: exits, stops and
  take-profits still work, no entries) or resume one engine.
* ``set_engine_enabled(engine, enabled)``: disable (HALTED, its entries cancelled, its
  stops kept and watched) or enable one engine.
* ``cancel_order(client_order_id)``: cancel one open order (never a protective stop);
  ``cancel_all(reason)``: every engine's entry and take-profit orders, stops kept.
* ``risk_config()`` / ``update_risk_config(changes)``: the runtime risk overlay
  (``kinetic.control.overlay``), validated with config.py's ranges and recorded.
* ``snapshot_portfolio()``: write every engine's equity snapshot now.
* ``operate(action, args, via=..., remote=..., confirm_token=...)``: the gate every
  front-end (API, Telegram) goes through: destructive actions need a one-time
  confirmation token (``kinetic.control.confirm``, 60 s), and every request, accepted,
  refused or unconfirmed, is written as an ``operator`` audit event
  (``kinetic.control.audit``). ``audit(...)`` records a request refused before it
  reached the gate (read-only mode, bad token, bad input).

Every call records an event and returns a ``CommandResult`` whose ``message`` is the one
line the operator sees; ``error`` says why a call did nothing (``not_found``,
``invalid``, ``conflict``, ``failed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from config import ConfigValidationError
from kinetic.clock import Clock, RealClock
from kinetic.control import overlay
from kinetic.control.actions import OperatorActions
from kinetic.control.audit import record_audit
from kinetic.control.confirm import Confirmation, Confirmations
from kinetic.control.types import (
    CommandResult,
    Supervised,
    cancel_entries,
    cancel_entries_everywhere,
    open_positions,
)
from kinetic.domain import TradingState
from kinetic.logging import get_logger
from kinetic.supervisor.trading_states import DAEMON, OPERATOR, EventSink

__all__ = ["CommandResult", "ControlService", "Supervised", "cancel_entries", "open_positions"]
FLATTEN_CAUSE = "flatten"
# actions ``operate`` knows; the destructive ones need a confirmation token (see below)
ACTIONS = ("kill_switch", "flatten_all", "cancel_all", "cancel_order", "engine_update",
           "risk_config", "snapshot")  # fmt: skip
KILL_SWITCH_CAUSE = "kill switch"


@dataclass(frozen=True, slots=True)
class OperatorReply:
    """What ``operate`` did: ``done``, ``failed``, ``unconfirmed`` (token issued) or ``refused``."""

    outcome: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # as CommandResult.error, plus "confirmation" (bad or expired token)
    confirmation: Confirmation | None = None


def needs_confirmation(action: str, args: dict[str, Any]) -> bool:
    """Destructive: kill switch off, cancel all, flatten all, disabling an engine, risk changes."""
    if action == "kill_switch":
        return args.get("active") is False
    if action == "engine_update":
        return args.get("enabled") is False
    return action in ("flatten_all", "cancel_all", "risk_config")


class ControlService(OperatorActions):
    """The one place operator commands are carried out."""

    def __init__(
        self, supervisor: Supervised, events: EventSink, clock: Clock | None = None
    ) -> None:
        self.sup = supervisor
        self.events = events
        self.confirmations = Confirmations(clock or RealClock())
        self.log = get_logger(component="control")

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
        cancelled, failed = await cancel_entries_everywhere(self.sup.engines, self._cancel_failed)
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

    def _cancel_failed(self, engine: str, exc: Exception) -> None:
        self.log.error("kill switch: cancelling entries failed", engine=engine, error=repr(exc))

    async def _kill_off(self, reason: str, by: str, engine: str | None) -> CommandResult:
        if engine is not None and engine not in self.sup.engines:
            known = ", ".join(self.sup.engines)
            return CommandResult(False, f"unknown engine {engine!r} (known: {known})",
                                 error="not_found")  # fmt: skip
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

    # ------------------------------------------------------------------ the operator gate
    async def operate(
        self,
        action: str,
        args: dict[str, Any],
        *,
        via: str,
        remote: str = "",
        confirm_token: str | None = None,
    ) -> OperatorReply:
        """Run ``action`` for an operator front-end: confirmation rule, then audit.

        ``args`` per action: ``kill_switch`` {active, reason, engine?}; ``flatten_all`` /
        ``cancel_all`` {reason}; ``cancel_order`` {client_order_id}; ``engine_update``
        {engine, enabled?, entries_paused?, reason}; ``risk_config`` {changes};
        ``snapshot`` {}. A destructive action (``needs_confirmation``) without a token
        returns ``unconfirmed`` with a one-time token valid 60 s for exactly these args;
        the same call with ``confirm_token`` carries it out. Every call is audited.
        """
        refusal = self._precheck(action, args)
        if refusal is not None:
            reply = OperatorReply("refused", refusal.message, refusal.data, refusal.error)
        elif needs_confirmation(action, args) and not confirm_token:
            conf = self.confirmations.issue(action, args)
            reply = OperatorReply("unconfirmed", f"{action} needs confirmation: repeat it with "
                                  f"the confirmation token within {conf.ttl_s:g} s",
                                  {"expires_ms": conf.expires_ms}, confirmation=conf)  # fmt: skip
        elif confirm_token and not self.confirmations.redeem(confirm_token, action, args):
            reply = OperatorReply("refused", "confirmation token invalid, expired, used, or "
                                  "issued for another action or arguments",
                                  error="confirmation")  # fmt: skip
        else:
            result = await self._run(action, args)
            reply = OperatorReply("done" if result.ok else "failed", result.message, result.data,
                                  result.error)  # fmt: skip
        await self.audit(action, args, reply.outcome, reply.message, via=via, remote=remote,
                         engine=args.get("engine") if isinstance(args.get("engine"), str)
                         else None)  # fmt: skip
        return reply

    def _precheck(self, action: str, args: dict[str, Any]) -> CommandResult | None:
        """Refuse before any confirmation what could never be carried out."""
        if action not in ACTIONS:
            return CommandResult(False, f"unknown action {action!r}", error="not_found")
        engine = args.get("engine")
        if engine is not None and action in ("engine_update", "kill_switch"):
            _eng, missing = self._engine(str(engine))
            if missing is not None:
                return missing
        if action == "risk_config":
            try:
                overlay.overlay(self._config(), dict(args.get("changes") or {}), "operator")
            except ConfigValidationError as exc:
                return CommandResult(False, str(exc), {"fields": list(exc.fields)},
                                     error="invalid")  # fmt: skip
        return None

    async def audit(
        self,
        action: str,
        args: Any,
        outcome: str,
        message: str,
        *,
        via: str,
        remote: str = "",
        engine: str | None = None,
    ) -> None:
        """Record an ``operator`` audit event (front-ends call it for requests they refuse)."""
        await record_audit(self.events, via=via, remote=remote, action=action, args=args,
                           outcome=outcome, message=message, engine=engine)  # fmt: skip

    async def _run(self, action: str, args: dict[str, Any]) -> CommandResult:
        reason = str(args.get("reason") or "")
        try:
            if action == "kill_switch":
                engine = args.get("engine")
                return await self.kill_switch(bool(args.get("active")), reason,
                                              engine=str(engine) if engine else None)  # fmt: skip
            if action == "flatten_all":
                return await self.flatten(reason)
            if action == "cancel_all":
                return await self.cancel_all(reason)
            if action == "cancel_order":
                return await self.cancel_order(str(args.get("client_order_id") or ""))
            if action == "engine_update":
                return await self._engine_update(args, reason)
            if action == "risk_config":
                return await self.update_risk_config(dict(args.get("changes") or {}))
            return await self.snapshot_portfolio()
        except Exception as exc:  # reported to the operator and logged, never swallowed
            self.log.exception("operator action failed", action=action)
            return CommandResult(False, f"{action} failed: {type(exc).__name__}: {exc}"[:500],
                                 error="failed")  # fmt: skip

    async def _engine_update(self, args: dict[str, Any], reason: str) -> CommandResult:
        engine = str(args.get("engine") or "")
        results: list[CommandResult] = []
        if args.get("enabled") is not None:
            results.append(await self.set_engine_enabled(engine, bool(args["enabled"]), reason))
        if args.get("entries_paused") is not None and all(r.ok for r in results):
            results.append(await self.set_entries_paused(engine, bool(args["entries_paused"]),
                                                         reason))  # fmt: skip
        if not results:
            _eng, missing = self._engine(engine)
            if missing is not None:
                return missing
            return CommandResult(True, f"{engine}: nothing to change", self.engine_state(engine))
        failed = next((r for r in results if not r.ok), None)
        if failed is not None:
            return failed
        data = {"engine": engine, **self.engine_state(engine)}
        return CommandResult(True, "; ".join(r.message for r in results), data)

    def engine_state(self, engine: str) -> dict[str, Any]:
        """One engine's own trading state, its effective one, and the pause/disable flags."""
        own = self.states.own(engine)
        return {
            "state": own.as_dict(),
            "effective": str(self.states.state(engine)),
            "entries_paused": own.state is TradingState.REDUCE_ONLY,
            "enabled": own.state is not TradingState.HALTED,
        }

"""Per-engine and per-order operator actions of ``ControlService`` (a mixin).

Pausing entries is the engine's own REDUCE_ONLY state (exits, stops and take-profits
still work); disabling is its HALTED state (nothing new is sent; its entry orders are
cancelled; its stops stay and stay watched). Both are persisted trading states, so they
survive a restart, and both are relaxed only by an operator (``resume`` / ``enable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config import ConfigValidationError, UnifiedConfig
from kinetic.control import overlay
from kinetic.control.confirm import Confirmations
from kinetic.control.types import (
    CommandResult,
    Supervised,
    cancel_entries,
    cancel_entries_everywhere,
)
from kinetic.domain import TradingState
from kinetic.supervisor.trading_states import OPERATOR, EventSink, TradingStates

PAUSE_CAUSE = "entries paused"
DISABLE_CAUSE = "disabled"


class OperatorActions:
    """Engine, order, risk-config and snapshot actions; ``ControlService`` mixes them in."""

    sup: Supervised
    events: EventSink
    confirmations: Confirmations
    log: Any

    @property
    def states(self) -> TradingStates:
        return self.sup.states

    def _engine(self, name: str) -> tuple[Any, CommandResult | None]:
        engine = self.sup.engines.get(name)
        if engine is None:
            known = ", ".join(self.sup.engines)
            return None, CommandResult(False, f"unknown engine {name!r} (known: {known})",
                                       error="not_found")  # fmt: skip
        return engine, None

    # ------------------------------------------------------------------ engines
    async def set_entries_paused(
        self, engine: str, paused: bool, reason: str = "", *, by: str = OPERATOR
    ) -> CommandResult:
        """Pause (REDUCE_ONLY) or resume (back to ACTIVE) one engine's entries."""
        _eng, missing = self._engine(engine)
        if missing is not None:
            return missing
        own = self.states.own(engine)
        if paused:
            cause = f"{PAUSE_CAUSE}: {reason}" if reason else PAUSE_CAUSE
            await self.states.escalate(engine, TradingState.REDUCE_ONLY, cause, by)
            now = self.states.own(engine)
            message = f"{engine}: entries paused ({now.state}: {now.cause})"
        elif own.state is TradingState.HALTED:
            return CommandResult(False, f"{engine} is HALTED ({own.cause}); enable it instead "
                                 "of resuming", error="conflict")  # fmt: skip
        elif await self.states.clear(engine, by=by, reason=reason or "entries resumed"):
            message = f"{engine}: entries resumed (ACTIVE; effective {self.states.state(engine)})"
        else:
            message = f"{engine}: entries were not paused (already ACTIVE)"
        data = {"engine": engine, "paused": paused, "reason": reason,
                "state": self.states.own(engine).as_dict(),
                "effective": str(self.states.state(engine))}  # fmt: skip
        await self.events.record_event("engine_entries", message, engine, data)
        return CommandResult(True, message, data)

    async def set_engine_enabled(
        self, engine: str, enabled: bool, reason: str = "", *, by: str = OPERATOR
    ) -> CommandResult:
        """Disable (HALTED, entries cancelled, stops kept) or enable (ACTIVE) one engine."""
        eng, missing = self._engine(engine)
        if missing is not None:
            return missing
        if enabled:
            if engine in getattr(self.sup, "halted", ()):
                return CommandResult(False, f"{engine} stopped after its restart budget; its "
                                     "loops are gone: restart the daemon to run it again",
                                     error="conflict")  # fmt: skip
            cleared = await self.states.clear(engine, by=by, reason=reason or "enabled")
            message = (f"{engine}: enabled (ACTIVE; effective {self.states.state(engine)})"
                       if cleared else f"{engine}: already enabled (ACTIVE)")  # fmt: skip
            cancelled = 0
        else:
            cause = f"{DISABLE_CAUSE}: {reason}" if reason else DISABLE_CAUSE
            await self.states.escalate(engine, TradingState.HALTED, cause, by)
            cancelled = await cancel_entries(eng)
            message = (f"{engine}: disabled (HALTED); cancelled {cancelled} entry/take-profit "
                       "orders; stops kept and watched")  # fmt: skip
        data = {"engine": engine, "enabled": enabled, "reason": reason, "cancelled": cancelled,
                "state": self.states.own(engine).as_dict()}  # fmt: skip
        await self.events.record_event("engine_enabled", message, engine, data)
        return CommandResult(True, message, data)

    # ------------------------------------------------------------------ orders
    async def cancel_order(self, client_order_id: str, *, by: str = OPERATOR) -> CommandResult:
        """Cancel one open order by client id; a protective stop is refused."""
        for name, engine in self.sup.engines.items():
            oms = engine.d.oms
            order = next((o for o in oms.open_orders() if o.client_order_id == client_order_id),
                         None)  # fmt: skip
            if order is None:
                continue
            if order.stop_price is not None:
                return CommandResult(False, f"{client_order_id} is a protective stop: it is "
                                     "not cancelled by hand (flatten closes the position)",
                                     error="conflict")  # fmt: skip
            lock = getattr(engine, "_step_lock", None)
            if lock is None:
                await oms.cancel(client_order_id)
            else:
                async with lock:
                    await oms.cancel(client_order_id)
            message = f"{name}: cancel sent for {client_order_id} ({order.symbol})"
            data = {"engine": name, "client_order_id": client_order_id, "symbol": order.symbol,
                    "by": by}  # fmt: skip
            await self.events.record_event("order_cancel", message, name, data)
            return CommandResult(True, message, data)
        return CommandResult(False, f"no open order {client_order_id!r}", error="not_found")

    async def cancel_all(self, reason: str = "", *, by: str = OPERATOR) -> CommandResult:
        """Cancel every engine's entry and take-profit orders; protective stops stay."""
        cancelled, failed = await cancel_entries_everywhere(self.sup.engines)
        per = ", ".join(f"{n} {c}" for n, c in cancelled.items())
        message = (f"cancel all: cancelled {sum(cancelled.values())} entry/take-profit orders "
                   f"({per}); stops kept")  # fmt: skip
        if failed:
            message += "; FAILED on " + ", ".join(f"{n} ({e})" for n, e in failed.items())
        data = {"reason": reason, "by": by, "cancelled": cancelled, "failed": failed}
        await self.events.record_event("cancel_all", message, None, data)
        return CommandResult(not failed, message, data, error="failed" if failed else "")

    # ------------------------------------------------------------------ risk overlay
    def risk_config(self) -> dict[str, Any]:
        """The runtime-changeable risk fields and their values now."""
        return overlay.risk_values(self._config())

    async def update_risk_config(
        self, changes: Mapping[str, Any], *, by: str = OPERATOR, source: str = "operator"
    ) -> CommandResult:
        """Validate ``changes`` like config.py and put them in force; record old and new."""
        base = self._config()
        try:
            new = overlay.overlay(base, changes, source)
        except ConfigValidationError as exc:
            return CommandResult(False, str(exc), {"fields": list(exc.fields)}, error="invalid")
        before = overlay.risk_values(base)
        overlay.apply(self.sup, new)
        after = overlay.risk_values(new)
        changed = {k: {"from": before[k], "to": after[k]} for k in changes}
        message = "risk config changed: " + ", ".join(
            f"{k} {v['from']!r} -> {v['to']!r}" for k, v in changed.items()
        )
        await self.events.record_event("config_change", message, None,
                                       {"changes": changed, "by": by})  # fmt: skip
        return CommandResult(True, message, {"changed": changed, "risk": after})

    def _config(self) -> UnifiedConfig:
        config = getattr(self.sup, "config", None)
        if not isinstance(config, UnifiedConfig):
            raise RuntimeError("the supervisor has no UnifiedConfig")  # a wiring error
        return config

    # ------------------------------------------------------------------ snapshot
    async def snapshot_portfolio(self, *, by: str = OPERATOR) -> CommandResult:
        """Write every engine's equity snapshot now."""
        for engine in self.sup.engines.values():
            await engine.maybe_snapshot(force=True)
        message = f"equity snapshot written for {', '.join(self.sup.engines)}"
        return CommandResult(True, message, {"engines": list(self.sup.engines), "by": by})

"""Trading states: what each engine and the whole daemon may send, and why.

Scopes are ``daemon`` and each engine's name. Each scope is ``ACTIVE``, ``REDUCE_ONLY``
or ``HALTED`` with the cause, the source (``operator``, ``risk_monitor``, ``supervisor``,
an engine) and since when. An engine's effective state is the stricter of its own and
the daemon's. ``escalate`` only ever makes a scope stricter; only ``clear`` (an operator
act) relaxes one. Every change is persisted and recorded as a ``trading_state`` event.

Escalation must work when the database does not: the new state applies in memory at
once and a failed write is retried by ``flush`` (the orchestrator calls it every monitor
step), so "the journal cannot be written" can still move an engine to REDUCE_ONLY.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kinetic.clock import Clock
from kinetic.domain import TradingState
from kinetic.logging import get_logger

DAEMON = "daemon"
OPERATOR = "operator"


class StateStore(Protocol):
    """Where states are kept (``repos.trading_states``)."""

    async def save(
        self, scope: str, state: str, cause: str = "", source: str = "", since_ms: int = 0
    ) -> None: ...

    async def load_all(self) -> dict[str, dict[str, Any]]: ...


class EventSink(Protocol):
    async def record_event(
        self, kind: str, message: str, engine: str | None = None, data: dict[str, Any] | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ScopeState:
    """One scope's own state, with why and since when."""

    state: TradingState = TradingState.ACTIVE
    cause: str = ""
    source: str = ""
    since_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "cause": self.cause,
            "source": self.source,
            "since_ms": self.since_ms,
        }


class TradingStates:
    """The daemon's ``StateGate``: per-engine and daemon-wide states, persisted."""

    def __init__(
        self,
        clock: Clock,
        store: StateStore | None = None,
        events: EventSink | None = None,
        engines: tuple[str, ...] = (),
    ) -> None:
        self._clock = clock
        self._store = store
        self._events = events
        self._scopes: dict[str, ScopeState] = {name: ScopeState() for name in (DAEMON, *engines)}
        self._unsaved: set[str] = set()
        # a floor for this process only, never persisted (a leader that lost its lease:
        # the daemon taking over from the shared database must not inherit it)
        self._fence: TradingState = TradingState.ACTIVE
        self.log = get_logger(component="trading_states")

    # ------------------------------------------------------------------ reading
    def state(self, engine: str) -> TradingState:
        """The effective state of ``engine``: the stricter of its own and the daemon's."""
        daemon = self.own(DAEMON).state.worst(self._fence)
        if engine == DAEMON:
            return daemon
        return daemon.worst(self.own(engine).state)

    def fence(self, state: TradingState, cause: str) -> None:
        """Hold this process at least at ``state`` from now on, without persisting it."""
        self._fence = self._fence.worst(state)
        self.log.error("trading fenced for this process", state=str(state), cause=cause)

    def own(self, scope: str) -> ScopeState:
        """The scope's own state (ACTIVE for a scope never set)."""
        return self._scopes.get(scope) or ScopeState()

    def snapshot(self) -> dict[str, ScopeState]:
        """Every known scope's own state, the daemon first."""
        return dict(sorted(self._scopes.items(), key=lambda kv: (kv[0] != DAEMON, kv[0])))

    # ------------------------------------------------------------------ changes
    async def escalate(self, engine: str, state: TradingState, cause: str, source: str) -> None:
        """Make ``engine`` (or ``"daemon"``) at least as strict as ``state``; never relax.

        An escalation to the state the scope already has keeps the first cause.
        """
        current = self.own(engine)
        if state.severity <= current.state.severity:
            return
        await self._change(engine, ScopeState(state, cause, source, self._clock.time_ms()))

    async def clear(
        self,
        scope: str,
        *,
        by: str = OPERATOR,
        reason: str = "",
        to: TradingState = TradingState.ACTIVE,
    ) -> bool:
        """Relax ``scope`` to ``to`` (an operator act); return False if nothing changed.

        Persisted before it applies: a clear that cannot be written does not happen.
        """
        if by != OPERATOR:
            raise PermissionError(f"only an operator may relax a trading state (by={by!r})")
        current = self.own(scope)
        if to.severity >= current.state.severity:
            return False
        cause = reason or "cleared by operator"
        new = ScopeState(to, cause if to is not TradingState.ACTIVE else "", OPERATOR,
                         self._clock.time_ms())  # fmt: skip
        if self._store is not None:
            await self._store.save(scope, str(new.state), new.cause, new.source, new.since_ms)
        await self._change(scope, new, persisted=True, reason=cause)
        return True

    async def _change(
        self, scope: str, new: ScopeState, *, persisted: bool = False, reason: str = ""
    ) -> None:
        old = self.own(scope)
        self._scopes[scope] = new
        if not persisted:
            self._unsaved.add(scope)
            await self.flush()
        cause = reason or new.cause
        log = self.log.warning if new.state.severity > old.state.severity else self.log.info
        log("trading state changed", scope=scope, was=str(old.state), now=str(new.state),
            cause=cause, source=new.source)  # fmt: skip
        if self._events is None:
            return
        data = {"scope": scope, "from": str(old.state), "to": str(new.state), "cause": cause,
                "source": new.source}  # fmt: skip
        engine = None if scope == DAEMON else scope
        try:
            await self._events.record_event(
                "trading_state", f"{scope}: {old.state} -> {new.state} ({cause})", engine, data
            )
        except Exception as exc:  # the state holds even if the audit row cannot be written
            self.log.error("trading state event not recorded", scope=scope, error=repr(exc))

    async def flush(self) -> bool:
        """Write states whose save failed; True when nothing is left unsaved."""
        if self._store is None:
            self._unsaved.clear()
            return True
        for scope in sorted(self._unsaved):
            s = self._scopes[scope]
            try:
                await self._store.save(scope, str(s.state), s.cause, s.source, s.since_ms)
            except Exception as exc:  # in force in memory; retried on the next flush
                self.log.error("trading state not persisted; will retry", scope=scope,
                               error=repr(exc))  # fmt: skip
                return False
            self._unsaved.discard(scope)
        return True

    async def restore(
        self, keep: Callable[[ScopeState], bool] | None = None
    ) -> dict[str, ScopeState]:
        """Load the saved states (at start-up); return the ones that are not ACTIVE.

        ``keep`` (replay: only the operator's) filters what comes back; a saved state it
        drops is set ACTIVE, persisted and recorded as an event, with the reason.
        """
        if self._store is None:
            return {}
        for scope, row in (await self._store.load_all()).items():
            try:
                state = TradingState(str(row.get("state") or "ACTIVE"))
            except ValueError:  # unknown name: the strictest reading is the safe one
                state = TradingState.HALTED
            saved = ScopeState(
                state, str(row.get("cause") or ""), str(row.get("source") or ""),
                int(row.get("since_ms") or 0),
            )  # fmt: skip
            self._scopes[scope] = saved
            if keep is not None and state is not TradingState.ACTIVE and not keep(saved):
                await self._change(
                    scope, ScopeState(TradingState.ACTIVE, "", "restore", self._clock.time_ms()),
                    reason=f"not restored: {saved.cause} (a replay is a fresh simulation)",
                )  # fmt: skip
        held = {k: v for k, v in self._scopes.items() if v.state is not TradingState.ACTIVE}
        for scope, s in held.items():
            self.log.warning("trading state restored", scope=scope, state=str(s.state),
                             cause=s.cause, source=s.source)  # fmt: skip
        return held

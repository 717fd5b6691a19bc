"""The trading-state gate an engine asks before sending, and the always-ACTIVE one.

``StateGate`` is implemented by the supervisor; ``AlwaysActive`` serves tests and
backtests. Both are re-exported by ``kinetic.engines.base``.
"""

from __future__ import annotations

from typing import Protocol

from kinetic.domain import TradingState


class StateGate(Protocol):
    """The trading-state authority an engine asks before sending (supervisor implements it)."""

    def state(self, engine: str) -> TradingState:
        """The engine's effective state: the stricter of its own and the daemon's."""
        ...

    async def escalate(self, engine: str, state: TradingState, cause: str, source: str) -> None:
        """Move ``engine`` to a stricter ``state`` (never a laxer one) and record why."""
        ...


_ACTIVE = TradingState.ACTIVE  # a module global: no enum class lookup per order


class AlwaysActive:
    """A gate that is always ACTIVE and records escalations (tests, backtests)."""

    def __init__(self) -> None:
        self.current: dict[str, TradingState] = {}
        self.causes: list[tuple[str, TradingState, str, str]] = []

    def state(self, engine: str) -> TradingState:
        return self.current.get(engine, _ACTIVE)

    async def escalate(self, engine: str, state: TradingState, cause: str, source: str) -> None:
        self.current[engine] = self.state(engine).worst(state)
        self.causes.append((engine, state, cause, source))

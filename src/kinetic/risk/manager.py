"""RiskManager: the one gate every entry passes, per engine.

It answers "may this engine open this position now, and how big?" from pure inputs:
the global breaker, the engine's limits, the blacklist, data freshness and the
capital the allocator grants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from kinetic.domain import ZERO, Signal


@dataclass(frozen=True, slots=True)
class EntryDecision:
    allowed: bool
    reason: str
    margin_usd: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_positions: int
    min_confidence: int


class RiskManager:
    """Check entries against the global breaker and the engine's own limits."""

    def __init__(
        self,
        limits: RiskLimits,
        can_trade_globally: Callable[[], bool],
        is_blacklisted: Callable[[str], bool] = lambda _s: False,
    ) -> None:
        self.limits = limits
        self._can_trade_globally = can_trade_globally
        self._is_blacklisted = is_blacklisted
        self.entries_allowed = True  # cleared on shutdown: stop new entries first

    def check_entry(
        self,
        signal: Signal,
        open_positions: int,
        has_position: bool,
        wanted_margin: Decimal,
        available_usd: Decimal,
    ) -> EntryDecision:
        """Return whether an entry on ``signal`` is allowed and the margin granted."""
        reason = self._refusal(signal, open_positions, has_position, wanted_margin, available_usd)
        if reason is not None:
            return EntryDecision(False, reason)
        return EntryDecision(True, "ok", min(wanted_margin, available_usd))

    def _refusal(
        self,
        signal: Signal,
        open_positions: int,
        has_position: bool,
        wanted_margin: Decimal,
        available_usd: Decimal,
    ) -> str | None:
        """The first check an entry fails, in order; None when all pass."""
        limits = self.limits
        if not self.entries_allowed:
            return "engine is stopping: no new entries"
        if not self._can_trade_globally():
            return "global circuit breaker active"
        if signal.confidence < limits.min_confidence:
            return f"confidence {signal.confidence} < {limits.min_confidence}"
        if has_position:
            return "position already open"
        if open_positions >= limits.max_positions:
            return f"max positions reached ({limits.max_positions})"
        if self._is_blacklisted(signal.symbol):
            return "symbol blacklisted after a loss"
        if wanted_margin <= 0:
            return "position size is zero"
        if available_usd <= 0:
            return "no capital available"
        return None

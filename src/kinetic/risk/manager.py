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
        checks: list[tuple[bool, str]] = [
            (self.entries_allowed, "engine is stopping: no new entries"),
            (self._can_trade_globally(), "global circuit breaker active"),
            (
                signal.confidence >= self.limits.min_confidence,
                f"confidence {signal.confidence} < {self.limits.min_confidence}",
            ),
            (not has_position, "position already open"),
            (
                open_positions < self.limits.max_positions,
                f"max positions reached ({self.limits.max_positions})",
            ),
            (not self._is_blacklisted(signal.symbol), "symbol blacklisted after a loss"),
            (wanted_margin > 0, "position size is zero"),
            (available_usd > 0, "no capital available"),
        ]
        for ok, reason in checks:
            if not ok:
                return EntryDecision(False, reason)
        return EntryDecision(True, "ok", min(wanted_margin, available_usd))

"""RiskManager: the one gate every entry passes, per engine.

It answers "may this engine open this position now, and how big?" from pure inputs:
the global breaker, the engine's limits, the blacklist (cooldown), data freshness and
the capital the allocator grants (``check_entry``); then the stop rule, the size from
risk, the leverage and the edge over the round-trip cost (``plan``, see
``kinetic.risk.entry``). Every refusal is counted by its code (``refusals``) for the
backtest report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from kinetic.costs import CostModel
from kinetic.domain import ZERO, Signal, builder, quick_init
from kinetic.risk.entry import EntryQuote, EntryRequest, EntryRules, Refusal, plan_entry

# the refusal code of an entry while a global breaker holds entries
HELD_CODE = "circuit_breaker"


@quick_init
@dataclass(frozen=True, slots=True)
class EntryDecision:
    allowed: bool
    reason: str
    margin_usd: Decimal = ZERO
    code: str = "ok"  # a short name of the refusal, for counts


_new_decision = builder(EntryDecision)  # ``EntryDecision(...)``, one per entry signal


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
        costs: CostModel | None = None,
        rules: EntryRules | None = None,
    ) -> None:
        self.limits = limits
        self._can_trade_globally = can_trade_globally
        self._is_blacklisted = is_blacklisted
        # without rules (tests of the older behaviour): fixed-fraction sizes, no stop
        # rule, no edge filter, no costs; ``kinetic.wiring`` passes the configured ones
        self.costs = costs or CostModel(ZERO, ZERO, ZERO)
        self.rules = rules or EntryRules(
            1.0, 1.0, limits.min_confidence, 0.0, 0.0, sized_by_risk=False
        )
        self.entries_allowed = True  # cleared on shutdown: stop new entries first
        self.refusals: Counter[str] = Counter()  # refused entries by code (episodes)
        self._last_refusal: dict[str, str] = {}  # symbol -> code of its last refusal

    def refuse(self, code: str, symbol: str = "") -> None:
        """Count an entry refused outside this gate (e.g. the engine's liquidation guard)."""
        self._count(symbol, code)

    def last_refusal(self, symbol: str) -> str | None:
        """The code of ``symbol``'s current refusal episode (None: none since its last
        accepted plan); a refusal with this code is not counted again."""
        return self._last_refusal.get(symbol)

    def check_entry(
        self,
        signal: Signal,
        open_positions: int,
        has_position: bool,
        wanted_margin: Decimal,
        available_usd: Decimal,
    ) -> EntryDecision:
        """Return whether an entry on ``signal`` is allowed and the margin granted."""
        refused = self._refusal(signal, open_positions, has_position, wanted_margin, available_usd)
        if refused is not None:
            code, reason = refused
            self._count(signal.symbol, code)
            return _new_decision(False, reason, code=code)
        return _new_decision(True, "ok", min(wanted_margin, available_usd))

    def _count(self, symbol: str, code: str) -> None:
        """Count a refused entry once per episode: a signal repeated bar after bar and
        refused for the same reason is one refusal (so a backtest's count does not
        depend on which quiet bars it fast-forwarded)."""
        if self._last_refusal.get(symbol) != code:
            self._last_refusal[symbol] = code
            self.refusals[code] += 1

    def plan(self, request: EntryRequest, symbol: str = "") -> EntryQuote | Refusal:
        """Stop rule, size from risk, leverage and the edge filter (counted when refused)."""
        quote = plan_entry(request, self.costs, self.rules)
        if isinstance(quote, Refusal):
            self._count(symbol, quote.code)
        else:
            self._last_refusal.pop(symbol, None)
        return quote

    def _refusal(
        self,
        signal: Signal,
        open_positions: int,
        has_position: bool,
        wanted_margin: Decimal,
        available_usd: Decimal,
    ) -> tuple[str, str] | None:
        """The first check an entry fails, in order, as ``(code, reason)``; None if none."""
        limits = self.limits
        if not self.entries_allowed:
            return "stopping", "engine is stopping: no new entries"
        if not self._can_trade_globally():
            return HELD_CODE, "global circuit breaker active"
        if signal.confidence < limits.min_confidence:
            return "confidence", f"confidence {signal.confidence} < {limits.min_confidence}"
        if has_position:
            return "position_open", "position already open"
        if open_positions >= limits.max_positions:
            return "max_positions", f"max positions reached ({limits.max_positions})"
        if self._is_blacklisted(signal.symbol):
            return "cooldown", "symbol in cooldown after a loss or stop-out"
        if wanted_margin <= ZERO:
            return "size", "position size is zero"
        if available_usd <= ZERO:
            return "no_capital", "no capital available"
        return None

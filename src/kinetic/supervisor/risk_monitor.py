"""GlobalRiskMonitor: portfolio-wide daily loss limit, drawdown limit, circuit breaker.

* Daily loss: measured from the portfolio value at the first update of each UTC day.
  Beyond ``global_daily_loss_limit_pct`` the breaker trips for
  ``global_circuit_breaker_cooldown_minutes``; if the day's loss is still beyond the
  limit when the cooldown ends, it trips again.
* Drawdown: measured from the peak value. Beyond ``global_max_drawdown_pct`` the
  breaker trips once, every position must be closed, and the hold is latched: no new
  entry until an operator clears it (``release_drawdown``), which is the only thing that
  re-bases the peak. No cooldown ends it, so the limit cannot be lost again and again.
  The daemon keeps the hold as its REDUCE_ONLY trading state (``TradingStates``).
* Figures are the account's as the venue reports it: the orchestrator feeds no value
  before every engine has read its account (``BaseEngine.ready``). The peak is the
  high-water mark across restarts: a value read at start-up above it raises it (a
  deposit, gains while down), one below it is a drawdown like any other (losses while
  down, or a withdrawal: the operator clears the hold and the peak starts again there).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from config import UnifiedConfig
from kinetic.clock import Clock

DAY_S = 86_400


def _drawdown_pct(peak: float, value: float) -> float:
    if peak <= 0:
        return 0.0
    return max(0.0, (peak - value) / peak * 100)


class RiskAction(enum.StrEnum):
    NONE = "none"
    HALT_NEW_TRADES = "halt_new_trades"
    CLOSE_ALL = "close_all"


@dataclass(frozen=True, slots=True)
class BreakerTrip:
    action: RiskAction
    reason: str
    until: float | None  # None: held until an operator clears it (drawdown)
    at: float = 0.0  # when it tripped (the monitor's clock)


class GlobalRiskMonitor:
    """Enforce the portfolio-wide limits; the one place that says whether to trade."""

    def __init__(self, config: UnifiedConfig, clock: Clock) -> None:
        self._daily_limit = config.global_daily_loss_limit_pct
        self._dd_limit = config.global_max_drawdown_pct
        self._cooldown_s = config.global_circuit_breaker_cooldown_minutes * 60.0
        self._clock = clock
        self.daily_pnl = 0.0
        self.day: str | None = None
        self.day_start_value = 0.0
        self.peak_portfolio_value = 0.0
        self.circuit_breaker_active = False
        self.circuit_breaker_until: float | None = None
        self.circuit_breaker_reason = ""
        self.drawdown_latched = False
        self.drawdown_reason = ""
        self.drawdown_at: float | None = None
        self.trips: list[BreakerTrip] = []
        self._day_number: int | None = None  # the UTC day ``_day_name`` was formatted for
        self._day_name = ""

    def apply_limits(self, config: UnifiedConfig) -> None:
        """Take the limits of ``config`` at run time (the operator's risk overlay)."""
        self._daily_limit = config.global_daily_loss_limit_pct
        self._dd_limit = config.global_max_drawdown_pct
        self._cooldown_s = config.global_circuit_breaker_cooldown_minutes * 60.0

    def _utc_day(self) -> str:
        number = int(self._clock.time() // DAY_S)
        if number != self._day_number:  # formatted once per day, not on every update
            self._day_number = number
            self._day_name = datetime.fromtimestamp(number * DAY_S, tz=UTC).strftime("%Y-%m-%d")
        return self._day_name

    def _expire(self) -> None:
        until = self.circuit_breaker_until
        if not (self.circuit_breaker_active and until is not None and self._clock.time() >= until):
            return
        self.circuit_breaker_active = False
        self.circuit_breaker_until = None
        self.circuit_breaker_reason = ""

    def update(self, portfolio_value: float) -> BreakerTrip | None:
        """Feed the current portfolio value; return a trip when a limit is crossed now."""
        # called on every step of a backtest: the helpers' tests are inlined where they
        # usually answer "nothing to do" (same day, no breaker, no drawdown)
        if int(self._clock.time() // DAY_S) == self._day_number:
            day = self._day_name
        else:
            day = self._utc_day()
        if day != self.day:
            self.day = day
            self.day_start_value = portfolio_value
        if self.circuit_breaker_active:
            self._expire()
        # ``max(peak, value)``: the first unless the second is greater (nan included)
        peak = self.peak_portfolio_value
        if portfolio_value > peak:
            self.peak_portfolio_value = peak = portfolio_value
        start = self.day_start_value
        self.daily_pnl = portfolio_value - start
        if self.drawdown_latched:
            return None  # entries are held already; nothing new to trip until cleared
        # ``_drawdown_pct(peak, value) > limit`` and ``check_daily_loss_limit(value)``,
        # inline (the same operations): every step of a backtest asks
        if peak > 0:
            dd = (peak - portfolio_value) / peak * 100
            if (dd if dd > 0.0 else 0.0) > self._dd_limit:  # ``max(0.0, dd)``
                dd = self.drawdown_pct(portfolio_value)
                return self.latch_drawdown(f"drawdown {dd:.2f}% from peak > {self._dd_limit:g}%")
        elif self._dd_limit < 0.0:
            dd = self.drawdown_pct(portfolio_value)
            return self.latch_drawdown(f"drawdown {dd:.2f}% from peak > {self._dd_limit:g}%")
        if (
            start > 0
            and (start - portfolio_value) / start * 100 > self._daily_limit
            and not self.circuit_breaker_active
        ):
            loss = -self.daily_pnl / self.day_start_value * 100 if self.day_start_value else 0.0
            return self.trigger_circuit_breaker(
                f"daily loss {loss:.2f}% > {self._daily_limit:g}%", RiskAction.HALT_NEW_TRADES
            )
        return None

    def update_pnl(self, engine_name: str, pnl: float) -> None:
        """Record a realized PnL contribution (kept for the seed 000 interface)."""
        self.daily_pnl += pnl

    def drawdown_pct(self, portfolio_value: float) -> float:
        return _drawdown_pct(self.peak_portfolio_value, portfolio_value)

    def check_daily_loss_limit(self, portfolio_value: float) -> bool:
        """True when today's loss exceeds the limit."""
        if self.day_start_value <= 0:
            return False
        loss_pct = (self.day_start_value - portfolio_value) / self.day_start_value * 100
        return loss_pct > self._daily_limit

    def check_drawdown_limit(self, portfolio_value: float) -> bool:
        """True when the drawdown from peak exceeds the limit."""
        return self.drawdown_pct(portfolio_value) > self._dd_limit

    def would_trip(self, peak: float, portfolio_value: float) -> bool:
        """True when ``portfolio_value`` would exceed a limit with ``peak`` as the peak.

        Side-effect free, with the same predicates as ``update`` (today's start value).
        """
        if self.drawdown_latched:
            return False  # ``update`` trips nothing while the drawdown hold is latched
        # ``_drawdown_pct(max(self.peak_portfolio_value, peak), value) > limit`` and
        # ``check_daily_loss_limit(value)``, inline (the same operations: a backtest
        # asks once per skipped stretch)
        top = self.peak_portfolio_value
        if peak > top:
            top = peak
        if top > 0:
            dd = (top - portfolio_value) / top * 100
            if (dd if dd > 0.0 else 0.0) > self._dd_limit:
                return True
        elif self._dd_limit < 0.0:
            return True
        start = self.day_start_value
        if start <= 0:
            return False
        return (start - portfolio_value) / start * 100 > self._daily_limit

    def can_open_new_trade(self) -> bool:
        """False while a breaker holds: the drawdown latch, or a daily-loss cooldown."""
        return not self.breaker_in_force()

    def breaker_in_force(self) -> bool:
        if self.drawdown_latched:
            return True
        if not self.circuit_breaker_active:
            return False
        return self.circuit_breaker_until is None or self._clock.time() < self.circuit_breaker_until

    def breaker_reason(self) -> str:
        """Why entries are held (the drawdown latch first), or ``""``."""
        return self.drawdown_reason if self.drawdown_latched else self.circuit_breaker_reason

    def latch_drawdown(self, reason: str) -> BreakerTrip:
        """Hold new entries until ``release_drawdown`` (an operator's clear)."""
        now = self._clock.time()
        self.drawdown_latched = True
        self.drawdown_reason = reason
        self.drawdown_at = now
        trip = BreakerTrip(RiskAction.CLOSE_ALL, reason, None, now)
        self.trips.append(trip)
        return trip

    def release_drawdown(self, portfolio_value: float) -> None:
        """The operator cleared the hold: the peak starts again at ``portfolio_value``.

        The one place the peak is lowered; without it the cleared limit would trip again
        on the next value.
        """
        self.drawdown_latched = False
        self.drawdown_reason = ""
        self.drawdown_at = None
        self.peak_portfolio_value = portfolio_value

    def trigger_circuit_breaker(
        self, reason: str, action: RiskAction = RiskAction.HALT_NEW_TRADES
    ) -> BreakerTrip:
        """Activate the breaker for the cooldown period."""
        now = self._clock.time()
        until = now + self._cooldown_s
        self.circuit_breaker_active = True
        self.circuit_breaker_until = until
        self.circuit_breaker_reason = reason
        trip = BreakerTrip(action, reason, until, now)
        self.trips.append(trip)
        return trip

    def restore(self, state: dict[str, object]) -> None:
        """Load persisted breaker state so a restart does not reopen trading early."""
        until = state.get("circuit_breaker_until")
        active = bool(state.get("circuit_breaker_active"))
        if active and isinstance(until, int | float) and until > self._clock.time():
            self.circuit_breaker_active = True
            self.circuit_breaker_until = float(until)
            self.circuit_breaker_reason = str(state.get("circuit_breaker_reason") or "")
        peak = state.get("peak_equity")
        if peak is not None:
            self.peak_portfolio_value = float(str(peak))
        # same UTC day: keep the day's starting value, so a restart cannot reset the limit
        start = state.get("day_start_equity")
        if state.get("day") == self._utc_day() and start is not None:
            self.day = self._utc_day()
            self.day_start_value = float(str(start))

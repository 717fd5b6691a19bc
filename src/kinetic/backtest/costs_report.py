"""What trading cost the run, what was refused and when the breakers tripped (issue 15).

* ``gross_profit``: the run's result before costs, ``net + fees - funding credited``
  (every position is closed by the end of a backtest, so the net is realized).
* ``fees_share_of_gross_pct`` / ``funding_share_of_gross_pct``: fees and funding paid as
  a percentage of that gross profit; ``None`` when the gross profit is not positive
  (costs then take more than all of it).
* ``cost_warning``: a line when the fees exceed half of the gross profit.
* ``refused_entries``: per engine, how many entry signals each rule refused (codes in
  docs/backtesting.md), ``exit_reasons``: closed trades per exit reason.
* ``breaker_timeline``: every circuit-breaker trip with its time, kind, reason and end.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kinetic.supervisor.risk_monitor import RiskAction

if TYPE_CHECKING:
    from kinetic.backtest.runner import BacktestResult

BREAKERS = {RiskAction.HALT_NEW_TRADES: "daily_loss", RiskAction.CLOSE_ALL: "drawdown"}


def _iso_s(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cost_warning(fees: float, gross: float) -> str | None:
    """The warning line when ``fees`` exceed half of ``gross`` profit (None: no warning)."""
    if fees <= 0:
        return None
    if gross <= 0:
        return f"WARNING: fees {fees:,.2f} paid while the gross profit was {gross:,.2f}"
    if fees > gross / 2:
        share = fees / gross * 100
        return f"WARNING: fees {fees:,.2f} are {share:.0f}% of the gross profit {gross:,.2f}"
    return None


def cost_summary(result: BacktestResult) -> dict[str, Any]:
    """The cost, refusal and breaker fields of the summary."""
    fees, funding = float(result.fees), float(result.funding)
    net = float(result.final_equity - result.start_equity)
    gross = net + fees - funding
    exits = Counter(_reason(t.exit_reason) for t in result.trades)
    share = (lambda x: x / gross * 100.0) if gross > 0 else (lambda _x: None)
    return {
        "gross_profit": gross,
        "fees_share_of_gross_pct": share(fees),
        "funding_share_of_gross_pct": share(-funding),
        "cost_warning": cost_warning(fees, gross),
        "refused_entries": {e: dict(sorted(c.items())) for e, c in result.refusals.items()},
        "exit_reasons": dict(sorted(exits.items())),
        "breaker_timeline": [
            {
                "at": _iso_s(t.at),
                "breaker": BREAKERS[t.action],
                "reason": t.reason,
                "until": _iso_s(t.until) if t.until is not None else None,
            }
            for t in result.trips
        ],
    }


def _reason(text: str) -> str:
    """The kind of an exit reason (``signal reversal: ...`` -> ``signal reversal``,
    ``SHORT confluence 41: ...`` -> ``SHORT confluence``)."""
    head = re.sub(r"[\s\d.]+$", "", text.split(":", 1)[0])
    return head.strip() or "exit"

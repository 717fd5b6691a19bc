"""Read-only answers (/status /balance /positions /pnl /daily /trades /orders /engines).

Plain text, one line per item, from the running daemon's objects: the orchestrator
(engines, health, risk monitor), ``ControlService.status()`` and the recent closed
trades. Nothing here changes state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from kinetic.domain import ClosedTrade, PortfolioStatus

DAY_MS = 86_400_000


class Portfolio(Protocol):
    """What the views read of the orchestrator."""

    @property
    def engines(self) -> Mapping[str, Any]: ...

    @property
    def risk_monitor(self) -> Any: ...

    @property
    def health_monitor(self) -> Any: ...

    def get_combined_status(self) -> PortfolioStatus: ...


def money(value: Decimal | float) -> str:
    return f"{float(value):,.2f}"


def signed(value: Decimal | float) -> str:
    return f"{float(value):+,.2f}"


def render_status(control: Mapping[str, Any], portfolio: Portfolio) -> str:
    st = portfolio.get_combined_status()
    daemon = control["daemon"]
    lines = [f"Kinetic: daemon {_state(daemon)}" + ("  KILL SWITCH ON" if control["kill_switch"]
                                                   else "")]  # fmt: skip
    for name, eng in control["engines"].items():
        status = st.engines_status.get(name)
        lines.append(f"{name}: {status} · trading {eng['effective']} · "
                     f"{eng['open_positions']} open")  # fmt: skip
    breaker = portfolio.risk_monitor.breaker_in_force()
    lines.append(f"value {money(st.total_value_usd)} USD · PnL {signed(st.total_pnl_usd)} "
                 f"({st.total_pnl_pct:+.2f}%)")  # fmt: skip
    lines.append("circuit breaker: " + ("ACTIVE" if breaker else "off"))
    return "\n".join(lines)


def render_balance(portfolio: Portfolio) -> str:
    lines = ["Balance (USD)"]
    total = Decimal(0)
    for name, engine in portfolio.engines.items():
        prices = engine.prices()
        pm = engine.d.positions
        equity = pm.equity(prices)
        total += equity
        lines.append(f"{name}: equity {money(equity)} · cash {money(pm.cash)} · "
                     f"free {money(pm.available(prices))}")  # fmt: skip
    lines.append(f"total equity {money(total)}")
    return "\n".join(lines)


def render_positions(portfolio: Portfolio) -> str:
    lines: list[str] = []
    for name, engine in portfolio.engines.items():
        prices = engine.prices()
        for symbol, pos in engine.d.positions.positions.items():
            price = prices.get(symbol)
            upnl = signed(pos.unrealized_pnl(price)) if price is not None else "?"
            liq = f" liq {pos.liquidation_price}" if pos.liquidation_price else ""
            lines.append(f"{name} {symbol} {pos.side} {pos.quantity} @ {pos.entry_price} "
                         f"stop {pos.stop_price}{liq} {pos.leverage}x · uPnL {upnl}")  # fmt: skip
    return "Open positions\n" + "\n".join(lines) if lines else "No open positions."


def render_pnl(portfolio: Portfolio) -> str:
    st = portfolio.get_combined_status()
    lines = ["PnL (USD)"]
    for name, snap in st.engines.items():
        lines.append(f"{name}: realized {signed(snap.realized_pnl_usd)} · unrealized "
                     f"{signed(snap.unrealized_pnl_usd)}")  # fmt: skip
    lines.append(f"total {signed(st.total_pnl_usd)} ({st.total_pnl_pct:+.2f}%)")
    return "\n".join(lines)


def render_daily(portfolio: Portfolio, today: Sequence[ClosedTrade]) -> str:
    rm = portfolio.risk_monitor
    if rm.day is None:
        head = "Today: no portfolio figures yet"
    else:
        start = float(rm.day_start_value)
        pct = rm.daily_pnl / start * 100 if start else 0.0
        head = (f"Today ({rm.day} UTC): PnL {signed(rm.daily_pnl)} ({pct:+.2f}%) "
                f"from {money(start)}")  # fmt: skip
    wins = sum(1 for t in today if t.pnl > 0)
    realized = sum((t.pnl for t in today), Decimal(0))
    return (f"{head}\nclosed trades {len(today)} (won {wins}) · realized {signed(realized)}"
            )  # fmt: skip


def render_trades(trades: Sequence[ClosedTrade]) -> str:
    if not trades:
        return "No closed trades yet."
    lines = [f"Last {len(trades)} closed trades"]
    for t in trades:
        lines.append(f"{t.engine} {t.symbol} {t.side} {t.quantity} {t.entry_price} -> "
                     f"{t.exit_price} · {signed(t.pnl)} ({t.exit_reason})")  # fmt: skip
    return "\n".join(lines)


def render_orders(portfolio: Portfolio) -> str:
    lines: list[str] = []
    for name, engine in portfolio.engines.items():
        for o in engine.d.oms.open_orders():
            price = f" stop {o.stop_price}" if o.stop_price is not None else (
                f" @ {o.price}" if o.price is not None else "")  # fmt: skip
            ro = " reduce-only" if o.reduce_only else ""
            lines.append(f"{name} {o.symbol} {o.side} {o.order_type} {o.remaining}{price}{ro} "
                         f"[{o.status}]")  # fmt: skip
    return "Open orders\n" + "\n".join(lines) if lines else "No open orders."


def render_engines(control: Mapping[str, Any], portfolio: Portfolio) -> str:
    health = portfolio.health_monitor
    lines = []
    for name, engine in portfolio.engines.items():
        h = health.engine_health.get(name)
        age = health.heartbeat_age(name) if h is not None else float("inf")
        beat = f"{age:.0f}s ago" if age != float("inf") else "never"
        state = control["engines"].get(name, {})
        strategy = getattr(engine.d.strategy, "name", "?")
        lines.append(f"{name}: {h.status if h else '?'} · heartbeat {beat} · restarts "
                     f"{h.restart_count if h else 0} · strategy {strategy} · trading "
                     f"{_state(state) if state else '?'}")  # fmt: skip
        if h is not None and h.last_error:
            lines.append(f"  last error: {str(h.last_error)[:200]}")
    return "\n".join(lines) if lines else "No engines."


def _state(entry: Mapping[str, Any]) -> str:
    text = str(entry.get("state", "?"))
    effective = entry.get("effective")
    if effective and effective != text:
        text += f" (effective {effective})"
    return text + (f" ({entry['cause']})" if entry.get("cause") else "")

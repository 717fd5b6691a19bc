"""Render the combined status (from ``storage.status.read_status``) for a terminal."""

from __future__ import annotations

from typing import Any


def render_status(status: dict[str, Any]) -> str:
    """Return a human-readable multi-line summary."""
    lines = ["Kinetic status", "=============="]
    engines = status.get("engines", {})
    if not engines:
        lines.append("no engine has reported yet (has the daemon run against this database?)")
    mode = _mode_line(status)
    if mode:
        lines.append(mode)
    daemon = status.get("trading_state")
    if daemon:
        lines.append(f"trading state: {_trading(daemon)}")
    for name, e in engines.items():
        alloc = status.get("allocation", {}).get(name)
        lines.append(
            f"{name:<8} {e['status']:<10} heartbeat {e['last_heartbeat'] or '-'}  "
            f"restarts {e['restart_count']}  fills {e['fills']}  open positions "
            f"{e['open_positions']}  equity {e['equity_usd']:.2f}  pnl {e['pnl_usd']:+.2f}"
            + (f"  allocation {alloc:g}%" if alloc is not None else "")
        )
        if e.get("trading_state"):
            lines.append(f"         trading state: {_trading(e['trading_state'])}")
        drift = e.get("drift") or {}
        if drift.get("drifting"):
            lines.append(
                f"         DRIFT since {drift['since']}: " + "; ".join(drift["differences"])
            )
        if e.get("last_error"):
            lines.append(f"         last error: {e['last_error']}")
    lines.append(
        f"total value {status['total_value_usd']:.2f} USD   total PnL "
        f"{status['total_pnl_usd']:+.2f} USD"
    )
    breaker = "ACTIVE" if status["circuit_breaker_active"] else "off"
    if status["circuit_breaker_active"]:
        breaker += (
            f" until {status.get('circuit_breaker_until')} ({status.get('circuit_breaker_reason')})"
        )
    lines.append(f"circuit breaker: {breaker}")
    positions = status.get("positions", [])
    lines.append(f"open positions: {len(positions)}")
    for p in positions:
        lines.append(
            f"  {p['engine']:<8} {p['symbol']:<10} {p['side']:<5} qty {p['quantity']:g} "
            f"entry {p['entry_price']:g} stop {p['stop_price']:g} lev {p['leverage']}x"
        )
    lines.append(f"updated at: {status.get('updated_at') or '-'}")
    return "\n".join(lines)


def _trading(entry: dict[str, Any]) -> str:
    """``HALTED (kill switch: maintenance; by operator since ...)``; ACTIVE stays short."""
    text = str(entry["state"])
    effective = entry.get("effective")
    if effective and effective != entry["state"]:
        text += f", effective {effective} (daemon)"
    if entry.get("cause"):
        who = f"; by {entry['source']}" if entry.get("source") else ""
        since = f" since {entry['since']}" if entry.get("since") else ""
        text += f" ({entry['cause']}{who}{since})"
    return text


def _mode_line(status: dict[str, Any]) -> str:
    """``mode: DRY_RUN - orders are journaled, never sent (NOT_SENT 12, VALIDATED 0)``."""
    mode = status.get("mode")
    if mode not in ("dry_run", "validate_only"):
        return f"mode: {mode}" if mode else ""
    unsent = status.get("unsent_orders") or {}
    what = "journaled, never sent" if mode == "dry_run" else "validated by the venue, never placed"
    return (
        f"mode: {mode.upper()} - orders are {what} "
        f"(NOT_SENT {unsent.get('NOT_SENT', 0)}, VALIDATED {unsent.get('VALIDATED', 0)})"
    )

"""Backtest outputs: the summary, trades.csv, equity.csv and a self-contained report.html.

Everything written here is a function of the inputs only (no wall clock), so two runs
with the same inputs produce byte-identical files. ``elapsed_s`` is printed by the CLI
but never written to the report directory.
"""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kinetic.backtest import plots
from kinetic.backtest.costs_report import cost_summary
from kinetic.backtest.metrics import curve_metrics, exposure_pct, trade_metrics
from kinetic.backtest.runner import BacktestResult
from kinetic.supervisor.risk_monitor import RiskAction

BREAKER_NAMES = {RiskAction.HALT_NEW_TRADES: "daily_loss", RiskAction.CLOSE_ALL: "drawdown"}
TRADE_FIELDS = ["engine", "symbol", "side", "quantity", "entry_price", "exit_price", "opened",
                "closed", "pnl", "fees", "leverage", "exit_reason"]  # fmt: skip


def iso(ms: int) -> str:
    """Format UTC milliseconds as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def breaker_counts(result: BacktestResult) -> dict[str, int]:
    """Return how often each circuit breaker tripped."""
    counts = dict.fromkeys(BREAKER_NAMES.values(), 0)
    for trip in result.trips:
        counts[BREAKER_NAMES[trip.action]] += 1
    return counts


def drawdown_halt(result: BacktestResult) -> dict[str, str] | None:
    """When and why the drawdown breaker stopped new entries (None: it never tripped).

    Like the daemon, the run opens nothing after that trip: nobody is there to clear it.
    """
    for trip in result.trips:
        if trip.action is RiskAction.CLOSE_ALL:
            return {"at": iso(round(trip.at * 1000)), "reason": trip.reason}
    return None


def summary(result: BacktestResult) -> dict[str, Any]:
    """Return the run's summary: inputs, curve metrics, trade statistics, totals."""
    c, opts = result.curve, result.options
    start = float(result.start_equity)
    first = min(int(a.open_time_ms[0]) for a in result.series.values())
    last = max(int(a.open_time_ms[-1]) for a in result.series.values())
    out: dict[str, Any] = {
        "engines": result.engines,
        "symbols": list(result.series),
        "strategy": {e: getattr(result.config, f"{e}_strategy") for e in result.engines},
        "params": dict(sorted(opts.params.items())),
        "fill": opts.fill,
        "units": opts.units,
        "raw": opts.raw,
        "allow_short": opts.allow_short,
        "stake": opts.stake,
        "slippage_bps": result.config.slippage_bps,
        "fee_fixed": opts.fee_fixed,
        "at_end": opts.at_end,
        "data": [Path(p).name for p in opts.data],
        "from": iso(first),
        "to": iso(last),
        "bars": result.bars,
        "start_equity": start,
        **curve_metrics(c.ts_ms, c.equity, start),
        "final_equity": float(result.final_equity),
        **trade_metrics(result.trades),
        "exposure_time_pct": exposure_pct(c.exposed),
        "fees_paid": float(result.fees),
        "funding": float(result.funding),
        "orders": result.orders,
        "fills": result.fills,
        "circuit_breakers": breaker_counts(result),
        "drawdown_halt": drawdown_halt(result),
        "events": len(result.events),
        **cost_summary(result),
    }
    out["total_return_pct"] = (out["final_equity"] / start - 1.0) * 100.0 if start else 0.0
    return {k: _clean(v) for k, v in out.items()}


def trades_csv(result: BacktestResult) -> str:
    """Return the closed trades as CSV text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TRADE_FIELDS)
    for t in result.trades:
        w.writerow([t.engine, t.symbol, t.side.value, t.quantity, t.entry_price, t.exit_price,
                    iso(t.opened_ms), iso(t.closed_ms), t.pnl, t.fees, t.leverage,
                    t.exit_reason])  # fmt: skip
    return buf.getvalue()


def equity_csv(result: BacktestResult) -> str:
    """Return the equity curve (one row per step) as CSV text."""
    c = result.curve
    rows = ["timestamp,equity,drawdown_pct,in_position"]
    dd = plots.drawdown_pct(c.equity)
    rows += [f"{t},{e:.8f},{d:.6f},{int(x)}" for t, e, d, x in
             zip(c.ts_ms.tolist(), c.equity.tolist(), dd.tolist(), c.exposed.tolist(),
                 strict=True)]  # fmt: skip
    return "\n".join(rows) + "\n"


def write_report(result: BacktestResult, folder: Path) -> dict[str, Any]:
    """Write summary.json, trades.csv, equity.csv and report.html; return the summary."""
    folder.mkdir(parents=True, exist_ok=True)
    data = summary(result)
    (folder / "summary.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (folder / "trades.csv").write_text(trades_csv(result), encoding="utf-8")
    (folder / "equity.csv").write_text(equity_csv(result), encoding="utf-8")
    (folder / "report.html").write_text(render_html(result, data), encoding="utf-8")
    return data


def _table(data: dict[str, Any]) -> str:
    rows = []
    for key, value in data.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        rows.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(shown)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
       "table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;"
       "padding:3px 8px;text-align:left}h2{margin-top:1.6em}svg{background:#fafafa}"
       ".warn{color:#b00;font-size:15px}")  # fmt: skip


def _rows(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _costs_html(data: dict[str, Any]) -> str:
    """Costs, refused entries and the breaker timeline as tables."""
    costs = [[k, data.get(k)] for k in ("gross_profit", "fees_paid", "fees_share_of_gross_pct",
             "funding", "funding_share_of_gross_pct")]  # fmt: skip
    refused = [[e, code, n] for e, c in data.get("refused_entries", {}).items()
               for code, n in c.items()]  # fmt: skip
    timeline = [[t["at"], t["breaker"], t["reason"], t["until"] or "operator"]
                for t in data.get("breaker_timeline", [])]  # fmt: skip
    return (
        "<h2>Costs</h2>" + _rows(["", "value"], costs)
        + "<h2>Refused entries</h2>" + _rows(["engine", "reason", "count"], refused)
        + "<h2>Circuit breakers</h2>" + _rows(["at", "breaker", "reason", "until"], timeline)
    )  # fmt: skip


def render_html(result: BacktestResult, data: dict[str, Any]) -> str:
    """Return a self-contained HTML report (inline CSS and SVG, no scripts)."""
    c = result.curve
    first = next(iter(result.series.values()))
    sections = [
        ("Equity", plots.line_svg(c.ts_ms, c.equity, "#1f77b4")),
        ("Drawdown (%)", plots.line_svg(c.ts_ms, plots.drawdown_pct(c.equity), "#d62728")),
        (f"Positions on price ({first.symbol})", plots.trades_svg(first, result.trades)),
        ("Monthly returns (%)", plots.monthly_table(c.ts_ms, c.equity)),
    ]
    body = "".join(f"<h2>{html.escape(t)}</h2>{s}" for t, s in sections)
    warning = data.get("cost_warning")
    if warning:
        body = f"<p class='warn'><strong>{html.escape(warning)}</strong></p>" + body
    body += _costs_html(data)
    title = f"Backtest {', '.join(result.series)} — {', '.join(result.engines)}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<h2>Summary</h2>{_table(data)}{body}</body></html>\n")  # fmt: skip

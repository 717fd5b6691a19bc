"""Optimize outputs: results.json (walk-forward, per window), trials.csv, oos_equity.csv
and a self-contained report.html in the backtest report's style.

``results_json`` is the machine-readable result: per window the train/test ranges, the
best parameters, the in-sample and out-of-sample metrics and buy-and-hold; a summary
of in-sample against out-of-sample; ``best_params`` (the last window's, i.e. the most
recent data's, or the single study's).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from kinetic.backtest import plots
from kinetic.backtest.metrics import max_drawdown
from kinetic.backtest.optimize import OptimizeResult, WindowResult
from kinetic.backtest.optimize_plots import history_svg, importance_svg
from kinetic.backtest.report import CSS, iso

COMPARED = ("score", "total_return_pct", "max_drawdown_pct", "sharpe", "trades", "fees_paid")
LABELS = {"score": "score", "total_return_pct": "return %", "max_drawdown_pct": "max dd %",
          "sharpe": "Sharpe", "trades": "trades", "fees_paid": "fees"}  # fmt: skip


def _range(start: int | None, end: int | None) -> dict[str, str] | None:
    return None if start is None or end is None else {"from": iso(start), "to": iso(end)}


def _counts(w: WindowResult) -> dict[str, int]:
    out = {"complete": 0, "pruned": 0, "failed": 0, "running": 0}
    for r in w.trials:
        key = {"COMPLETE": "complete", "PRUNED": "pruned", "RUNNING": "running"}.get(
            r["state"], "failed"
        )
        out[key] += 1
    return out


def window_json(w: WindowResult) -> dict[str, Any]:
    """One window of the walk-forward, as JSON-ready data."""
    win = w.window
    return {
        "index": win.index,
        "study": w.study,
        "train": _range(win.train_start, win.train_end),
        "test": _range(win.test_start, win.test_end),
        "trials": _counts(w),
        "best": None
        if w.best is None
        else {
            "trial": w.best["number"],
            "score": w.best["value"],
            "params": w.best["values"],
        },
        "in_sample": w.in_sample,
        "out_of_sample": w.out_of_sample,
        "buy_and_hold_pct": w.buy_and_hold,
        "importance": w.importance,
    }


def oos_curve(result: OptimizeResult, start: float) -> tuple[np.ndarray, np.ndarray]:
    """The test stretches' equity chained: each window starts where the last ended."""
    ts_parts, eq_parts, level = [], [], start
    for w in result.windows:
        curve = w.oos_curve
        if curve is None or curve[1].size == 0 or curve[1][0] <= 0:
            continue
        eq = curve[1] / curve[1][0] * level
        ts_parts.append(curve[0])
        eq_parts.append(eq)
        level = float(eq[-1])
    if not ts_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(ts_parts), np.concatenate(eq_parts)


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 6) if vals else None


def _compound(pcts: list[Any]) -> float | None:
    vals = [float(v) for v in pcts if v is not None]
    if not vals:
        return None
    return round((math.prod(1 + v / 100 for v in vals) - 1) * 100, 6)


def summary_json(result: OptimizeResult) -> dict[str, Any]:
    """In-sample against out-of-sample over the windows."""
    ins = [w.in_sample or {} for w in result.windows]
    outs = [w.out_of_sample or {} for w in result.windows if w.window.has_test]
    out: dict[str, Any] = {"windows": len(result.windows)}
    for key in ("score", "total_return_pct", "max_drawdown_pct", "sharpe", "trades"):
        out[f"in_sample_{key}_mean"] = _mean([m.get(key) for m in ins])
        if outs:
            out[f"out_of_sample_{key}_mean"] = _mean([m.get(key) for m in outs])
    if outs:
        out["out_of_sample_compounded_return_pct"] = _compound([m.get("total_return_pct")
                                                                for m in outs])  # fmt: skip
        out["buy_and_hold_test_compounded_pct"] = _compound(
            [w.buy_and_hold.get("test") for w in result.windows if w.window.has_test]
        )
        cash = float(result.spec.setup.options.cash or result.spec.setup.config.initial_capital_usd)
        ts, eq = oos_curve(result, cash)
        out["out_of_sample_max_drawdown_pct"] = (round(max_drawdown(ts, eq).max_pct, 6)
                                                 if eq.size else None)  # fmt: skip
    return out


def results_json(result: OptimizeResult) -> dict[str, Any]:
    """The whole result as JSON-ready data (written as results.json, printed by --json)."""
    spec, o = result.spec, result.spec.setup.options
    goal = spec.setup.goal
    last = next((w.best for w in reversed(result.windows) if w.best is not None), None)
    return {
        "study": spec.study,
        "storage": spec.storage.display,
        "strategy": o.strategy,
        "engines": list(o.engines),
        "symbols": list(o.symbols),
        "objective": goal.objective,
        "max_drawdown_pct": goal.max_drawdown_pct,
        "min_trades": goal.min_trades,
        "sampler": spec.sampler,
        "trials_per_window": spec.trials,
        "folds": spec.setup.folds,
        "data": _range(result.data_from_ms, result.data_to_ms),
        "space": {p.name: p.describe() for p in spec.setup.space},
        "best_params": None if last is None else last["values"],
        "summary": summary_json(result),
        "windows": [window_json(w) for w in result.windows],
    }


def trials_csv(result: OptimizeResult) -> str:
    """Every trial of every window as CSV (parameters and kept metrics as columns)."""
    names = [p.name for p in result.spec.setup.space]
    metric_keys: list[str] = []
    for w in result.windows:
        for r in w.trials:
            for k in r.get("metrics") or {}:
                if k not in metric_keys:
                    metric_keys.append(k)
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["window", "trial", "state", "value", "feasible", *names, *metric_keys])
    for w in result.windows:
        for r in w.trials:
            m = r.get("metrics") or {}
            wr.writerow([w.window.index, r["number"], r["state"], r["value"], r["feasible"],
                         *[r["values"].get(n) for n in names],
                         *[m.get(k) for k in metric_keys]])  # fmt: skip
    return buf.getvalue()


def write_optimize_report(result: OptimizeResult, folder: Path) -> dict[str, Any]:
    """Write results.json, trials.csv, oos_equity.csv and report.html; return the JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    data = results_json(result)
    (folder / "results.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (folder / "trials.csv").write_text(trials_csv(result), encoding="utf-8")
    ts, eq = _shown_curve(result)
    rows = ["timestamp,equity"] + [f"{t},{e:.8f}" for t, e in
                                   zip(ts.tolist(), eq.tolist(), strict=True)]  # fmt: skip
    (folder / "oos_equity.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "report.html").write_text(render_html(result, data), encoding="utf-8")
    return data


def _shown_curve(result: OptimizeResult) -> tuple[np.ndarray, np.ndarray]:
    cash = float(result.spec.setup.options.cash or result.spec.setup.config.initial_capital_usd)
    ts, eq = oos_curve(result, cash)
    if eq.size == 0 and result.windows and result.windows[-1].is_curve is not None:
        return result.windows[-1].is_curve  # no test stretch: the best run in sample
    return ts, eq


def _cell(value: Any) -> str:
    if isinstance(value, float):
        value = f"{value:,.4f}"
    elif isinstance(value, dict | list):
        value = json.dumps(value)
    return html.escape("" if value is None else str(value))


def _grid(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def walk_forward_table(data: dict[str, Any]) -> str:
    """Per window: best parameters, in-sample against out-of-sample metrics."""
    header = ["window", "train", "test", "best params"]
    for side in ("IS", "OOS"):
        header += [f"{side} {LABELS[k]}" for k in COMPARED]
    header.append("buy&hold test %")
    rows = []
    for w in data["windows"]:
        ins, outs = w["in_sample"] or {}, w["out_of_sample"] or {}
        train, test = w["train"], w["test"]
        row = [w["index"], f"{train['from'][:10]} → {train['to'][:10]}",
               f"{test['from'][:10]} → {test['to'][:10]}" if test else "",
               (w["best"] or {}).get("params")]  # fmt: skip
        row += [ins.get(k) for k in COMPARED] + [outs.get(k) for k in COMPARED]
        row.append(w["buy_and_hold_pct"].get("test"))
        rows.append(row)
    return _grid(header, rows)


def _trials_table(w: WindowResult, names: list[str], limit: int = 50) -> str:
    ranked = sorted(w.trials, key=lambda r: (r["value"] is None, -(r["value"] or 0.0)))
    rows = [[r["number"], r["state"], r["value"], r["feasible"],
             *[r["values"].get(n) for n in names],
             (r.get("metrics") or {}).get("total_return_pct"),
             (r.get("metrics") or {}).get("max_drawdown_pct"),
             (r.get("metrics") or {}).get("trades")] for r in ranked[:limit]]  # fmt: skip
    note = ""
    if len(ranked) > limit:
        note = f"<p>top {limit} of {len(ranked)} trials (all in trials.csv)</p>"
    return _grid(["trial", "state", "value", "feasible", *names, "return %", "max dd %",
                  "trades"], rows) + note  # fmt: skip


def render_html(result: OptimizeResult, data: dict[str, Any]) -> str:
    """Return the self-contained report (inline CSS and SVG, no scripts)."""
    names = [p.name for p in result.spec.setup.space]
    ts, eq = _shown_curve(result)
    has_test = any(w.window.has_test for w in result.windows)
    head = {k: v for k, v in data.items() if k not in ("windows", "summary")}
    sections = [("Summary", _grid(["field", "value"], [[k, v] for k, v in head.items()])),
                ("In-sample against out-of-sample",
                 _grid(["measure", "value"], [[k, v] for k, v in data["summary"].items()])),
                ("Walk-forward windows", walk_forward_table(data)),
                ("Out-of-sample equity (test windows chained)" if has_test
                 else "Equity of the best parameters (in sample)",
                 plots.line_svg(ts, eq, "#1f77b4") if eq.size else "<p>no run</p>")]  # fmt: skip
    shown = result.windows if len(result.windows) <= 6 else result.windows[-1:]
    for w in shown:
        label = f" — window {w.window.index}" if len(result.windows) > 1 else ""
        points = [(r["number"], float(r["value"]), bool(r["feasible"])) for r in w.trials
                  if r["state"] == "COMPLETE" and r["value"] is not None]  # fmt: skip
        sections += [(f"Objective history{label}", history_svg(points)),
                     (f"Parameter importance{label}", importance_svg(w.importance)),
                     (f"Trials{label}", _trials_table(w, names))]  # fmt: skip
    body = "".join(f"<h2>{html.escape(t)}</h2>{s}" for t, s in sections)
    title = f"Optimize {result.spec.study} — {data['strategy'] or 'configured strategy'}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{body}</body></html>\n")  # fmt: skip

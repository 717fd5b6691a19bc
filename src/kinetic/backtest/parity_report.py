"""The parity report: a summary and one row per order pair, as a table, JSON or HTML."""

from __future__ import annotations

import html
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kinetic.backtest.parity import Leg, Pair
from kinetic.backtest.report import CSS, iso

COLUMNS = ("kind", "at", "symbol", "side", "type", "reduce_only", "backtest_id", "run_id",
           "backtest_qty", "run_qty", "backtest_price", "run_price", "price_diff_bps",
           "fee_diff", "latency_ms")  # fmt: skip


def _num(value: Decimal | None, places: str = "0.0001") -> str | None:
    return None if value is None else f"{value.quantize(Decimal(places)).normalize():f}"


def _stats(values: list[Any], show: Callable[[Any], Any]) -> dict[str, Any]:
    if not values:
        return {"mean": None, "min": None, "max": None}
    mean = sum(values) / len(values)
    return {"mean": show(mean), "min": show(min(values)), "max": show(max(values))}


def pair_row(pair: Pair) -> dict[str, Any]:
    """One pair as plain JSON values (decimals as strings)."""
    leg: Leg = pair.backtest or pair.run  # type: ignore[assignment]
    b, r = pair.backtest, pair.run
    return {
        "kind": pair.kind,
        "at": iso(pair.at_ms),
        "symbol": leg.symbol,
        "side": leg.side,
        "type": leg.order_type,
        "reduce_only": leg.reduce_only,
        "backtest_id": b.client_order_id if b else None,
        "run_id": r.client_order_id if r else None,
        "backtest_qty": str(b.filled_qty) if b else None,
        "run_qty": str(r.filled_qty) if r else None,
        "backtest_price": _num(b.avg_price, "0.00000001") if b else None,
        "run_price": _num(r.avg_price, "0.00000001") if r else None,
        "price_diff_bps": _num(pair.price_diff_bps),
        "fee_diff": _num(pair.fee_diff, "0.00000001"),
        "latency_ms": pair.latency_ms,
    }


def summary(engine: str, start_ms: int, end_ms: int | None, pairs: list[Pair]) -> dict[str, Any]:
    """Counts and the distribution of each difference over the matched pairs."""
    kinds = [p.kind for p in pairs]
    bps = [p.price_diff_bps for p in pairs if p.price_diff_bps is not None]
    fees = [p.fee_diff for p in pairs if p.fee_diff is not None]
    lat = [p.latency_ms for p in pairs if p.latency_ms is not None]
    return {
        "engine": engine,
        "from": iso(start_ms),
        "to": iso(end_ms) if end_ms is not None else None,
        "orders": {
            "backtest": sum(p.backtest is not None for p in pairs),
            "run": sum(p.run is not None for p in pairs),
            "matched": kinds.count("matched"),
            "missed": kinds.count("missed"),
            "extra": kinds.count("extra"),
        },
        "price_diff_bps": _stats(bps, _num),
        "fee_diff_total": _num(sum(fees, Decimal(0)), "0.00000001"),
        "latency_ms": _stats(lat, round),
        "pairs": [pair_row(p) for p in pairs],
    }


def render_table(data: dict[str, Any]) -> str:
    """The summary lines, then one fixed-width row per pair."""
    o = data["orders"]
    lines = [
        f"parity {data['engine']}: {data['from']} .. {data['to'] or 'end'}",
        f"orders: backtest {o['backtest']}, run {o['run']}, matched {o['matched']}, "
        f"missed {o['missed']}, extra {o['extra']}",
        f"price diff (bps, against the taker): {_dist(data['price_diff_bps'])}",
        f"fee diff (run - backtest): {data['fee_diff_total']}",
        f"latency candle close -> fill (ms): {_dist(data['latency_ms'])}",
        "",
    ]
    shown = ("kind", "at", "symbol", "side", "type", "backtest_price", "run_price",
             "price_diff_bps", "fee_diff", "latency_ms")  # fmt: skip
    rows = [list(shown)]
    rows += [["" if r[c] is None else str(r[c]) for c in shown] for r in data["pairs"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(shown))]
    for row in rows:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _dist(d: dict[str, Any]) -> str:
    return "none" if d["mean"] is None else f"mean {d['mean']}, min {d['min']}, max {d['max']}"


def render_html(data: dict[str, Any]) -> str:
    """A self-contained page in the backtest report's style: summary, then the pairs."""
    o = data["orders"]
    facts = {
        "engine": data["engine"], "window": f"{data['from']} .. {data['to'] or 'end'}",
        "orders (backtest / run)": f"{o['backtest']} / {o['run']}", "matched": o["matched"],
        "missed": o["missed"], "extra": o["extra"],
        "price diff (bps)": _dist(data["price_diff_bps"]),
        "fee diff (run - backtest)": data["fee_diff_total"],
        "latency close -> fill (ms)": _dist(data["latency_ms"]),
    }  # fmt: skip
    head = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in facts.items()
    )
    cells = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if r[c] is None else str(r[c]))}</td>"
                         for c in COLUMNS) + "</tr>"
        for r in data["pairs"]
    )  # fmt: skip
    title = f"Parity {data['engine']}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{CSS}</style></head><body><h1>{title}</h1><section id='parity'>"
            f"<h2>Run against backtest</h2><table>{head}</table><h2>Orders</h2>"
            f"<table><tr>{cells}</tr>{body}</table></section></body></html>\n")  # fmt: skip

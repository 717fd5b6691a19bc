"""The validation table of the built-in strategies (issue 15, item 4).

Every built-in strategy runs on both engines with the default configuration over the
shipped data, split into an in-sample window (where the defaults were chosen with
``main.py optimize``) and the out-of-sample window after it (never used to choose
anything). Per window: return, max drawdown, Sharpe, trades, fees as a share of the
gross profit, and buy-and-hold over the same window. ``scripts/strategy_table.py``
writes the table into docs/strategies.md between the ``GENERATED`` markers; a test
recomputes the out-of-sample figures and compares them with the published ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import UnifiedConfig
from kinetic.backtest.data import parse_time_ms
from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.report import summary
from kinetic.backtest.runner import BacktestRunner, run_sync
from kinetic.backtest.validated import BUILT_IN, ENGINES

DATA = Path("data/backtest/binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz")
SYMBOL = "BTCUSDT"
IN_SAMPLE = ("2020-12-01", "2021-04-01")
OUT_OF_SAMPLE = ("2021-04-01", "2021-07-18")
BEGIN, END = "<!-- GENERATED: strategy table (scripts/strategy_table.py) -->", "<!-- /GENERATED -->"
COMMAND = "python scripts/strategy_table.py"


@dataclass(frozen=True)
class WindowResult:
    """One strategy x engine x window."""

    return_pct: float
    max_drawdown_pct: float
    sharpe: float | None
    trades: int
    fees_share_pct: float | None  # of the gross profit; None: no gross profit
    buy_hold_pct: float

    def cells(self) -> list[str]:
        fees = "n/a (no gross profit)" if self.fees_share_pct is None else (
            f"{self.fees_share_pct:.0f}%"
        )  # fmt: skip
        if self.trades == 0:
            fees = "-"
        sharpe = "-" if self.sharpe is None else f"{self.sharpe:.2f}"
        return [f"{self.return_pct:+.1f}%", f"{self.max_drawdown_pct:.1f}%", sharpe,
                str(self.trades), fees, f"{self.buy_hold_pct:+.1f}%"]  # fmt: skip


@dataclass(frozen=True)
class Row:
    strategy: str
    engine: str
    in_sample: WindowResult
    out_of_sample: WindowResult
    validated: bool


def run_window(
    strategy: str, engine: str, window: tuple[str, str], root: Path = Path(".")
) -> WindowResult:
    """Backtest ``strategy`` on ``engine`` with the default config over ``window``."""
    opts = BacktestOptions(
        engines=(engine,), symbols=(SYMBOL,), data=(root / DATA,), strategy=strategy,
        start_ms=parse_time_ms(window[0], "--from"), end_ms=parse_time_ms(window[1], "--to"),
    )  # fmt: skip
    result = run_sync(BacktestRunner(UnifiedConfig(), opts, progress=False))
    data = summary(result)
    arrays = result.series[SYMBOL]
    hold = (float(arrays.close[-1]) / float(arrays.open[0]) - 1.0) * 100.0
    return WindowResult(
        round(data["total_return_pct"], 2), round(data["max_drawdown_pct"], 2),
        data["sharpe"], data["trades"], data["fees_share_of_gross_pct"], round(hold, 2),
    )  # fmt: skip


def passes(
    oos: WindowResult, config: UnifiedConfig | None = None, ins: WindowResult | None = None
) -> bool:
    """Out of sample not worse than flat after costs; drawdown inside
    ``global_max_drawdown_pct`` in both windows (a run that reached the breaker is not
    inside it: its drawdown stops at the limit only because trading stopped)."""
    limit = (config or UnifiedConfig()).global_max_drawdown_pct
    inside = all(w.max_drawdown_pct < limit for w in (oos, ins) if w is not None)
    return oos.return_pct >= 0.0 and inside


def _row(args: tuple[str, str, Path]) -> Row:
    strategy, engine, root = args
    ins = run_window(strategy, engine, IN_SAMPLE, root)
    oos = run_window(strategy, engine, OUT_OF_SAMPLE, root)
    return Row(strategy, engine, ins, oos, passes(oos, ins=ins))


def build_rows(
    root: Path = Path("."), only: set[tuple[str, str]] | None = None, jobs: int = 1
) -> list[Row]:
    """Evaluate every built-in strategy on both engines (or ``only`` those pairs).

    ``jobs`` > 1 runs the rows in that many processes (same results, in the same order).
    """
    pairs = [(s, e, root) for s in BUILT_IN for e in ENGINES if only is None or (s, e) in only]
    if jobs <= 1:
        return [_row(p) for p in pairs]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_row, pairs))


HEADER = ["strategy", "engine", "window", "return", "max DD", "Sharpe", "trades",
          "fees / gross profit", "buy & hold", "verdict"]  # fmt: skip


def render(rows: list[Row]) -> str:
    """The markdown table (two lines per row: in-sample, out-of-sample)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        verdict = "default-eligible" if r.validated else "experimental"
        lines.append("| " + " | ".join([f"`{r.strategy}`", r.engine, "in-sample",
                                         *r.in_sample.cells(), ""]) + " |")  # fmt: skip
        lines.append("| " + " | ".join(["", "", "out-of-sample", *r.out_of_sample.cells(),
                                         f"**{verdict}**"]) + " |")  # fmt: skip
    return "\n".join(lines)


def block(rows: list[Row]) -> str:
    """The generated block with its markers and the windows it covers."""
    text = (
        f"{BEGIN}\n\nData `{DATA.name}`, default configuration; in-sample "
        f"{IN_SAMPLE[0]} to {IN_SAMPLE[1]}, out-of-sample {OUT_OF_SAMPLE[0]} to the end of "
        f"the data. Regenerate with `{COMMAND}`.\n\n{render(rows)}\n\n{END}"
    )
    return text


def update_doc(doc: Path, rows: list[Row]) -> bool:
    """Write the block into ``doc`` (replacing an earlier one); True if it changed."""
    text = doc.read_text(encoding="utf-8")
    new_block = block(rows)
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    new = pattern.sub(lambda _m: new_block, text) if pattern.search(text) else (
        text.rstrip("\n") + "\n\n" + new_block + "\n"
    )  # fmt: skip
    if new == text:
        return False
    doc.write_text(new, encoding="utf-8")
    return True


def published(doc: Path) -> dict[tuple[str, str], dict[str, list[str]]]:
    """Parse the generated table of ``doc`` back: ``(strategy, engine) -> {window: cells}``."""
    return parse_block(doc.read_text(encoding="utf-8"))


def parse_block(text: str) -> dict[tuple[str, str], dict[str, list[str]]]:
    """Parse the generated block found in ``text`` (empty when there is none)."""
    match = re.search(re.escape(BEGIN) + r"(.*?)" + re.escape(END), text, re.S)
    out: dict[tuple[str, str], dict[str, list[str]]] = {}
    if match is None:
        return out
    key: tuple[str, str] | None = None
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != len(HEADER) or cells[2] not in ("in-sample", "out-of-sample"):
            continue
        if cells[0]:
            key = (cells[0].strip("`"), cells[1])
        if key is not None:
            out.setdefault(key, {})[cells[2]] = cells[3:]
    return out


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    """The rows as plain data (for ``--json``)."""
    return [
        {"strategy": r.strategy, "engine": r.engine, "validated": r.validated,
         "in_sample": r.in_sample.__dict__, "out_of_sample": r.out_of_sample.__dict__}
        for r in rows
    ]  # fmt: skip

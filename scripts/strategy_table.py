"""Regenerate the strategy validation table in docs/strategies.md (issue 15, item 4).

Usage: ``python scripts/strategy_table.py [--check] [--json] [--jobs N] [--only S:E]``.

Runs every built-in strategy on both engines with the default configuration over the
shipped BTCUSDT 5m data, in-sample and out-of-sample (``kinetic.backtest.strategy_table``),
and writes the table between the GENERATED markers of docs/strategies.md. ``--check``
writes nothing and exits 1 when the published table differs. The defaults themselves were
chosen on the in-sample window with ``main.py optimize`` walk-forward searches
(``scripts/optimize_defaults.py``; docs/strategies.md, "How the defaults were chosen").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # config.py (not installed)

from kinetic.backtest.strategy_table import (
    as_json,
    block,
    build_rows,
    parse_block,
    published,
    update_doc,
)
from kinetic.logging import configure_logging

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "strategies.md"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with docs, write nothing")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--only", action="append", default=[], metavar="STRATEGY:ENGINE")
    p.add_argument("--jobs", type=int, default=1, help="backtests in parallel processes")
    args = p.parse_args()
    configure_logging("ERROR")
    only = {tuple(x.split(":", 1)) for x in args.only} or None
    rows = build_rows(ROOT, only, args.jobs)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(as_json(rows), indent=2))
    if args.check:
        table = published(DOC)
        fresh = parse_block(block(rows))
        stale = [k for k, v in fresh.items() if table.get(k) != v]
        for key in stale:
            print(f"stale row {key}: published {table.get(key)} != computed {fresh[key]}")
        return 1 if stale else 0
    if only is None:
        changed = update_doc(DOC, rows)
        print(f"{DOC.relative_to(ROOT)}: {'updated' if changed else 'unchanged'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

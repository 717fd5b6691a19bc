"""Which built-in strategy is validated on which engine (issue 15, item 4).

A strategy is *validated* on an engine when, with the shipped defaults, its
out-of-sample result on the shipped data after costs is not worse than staying flat and
its drawdown stays inside ``global_max_drawdown_pct`` in both windows; the figures are the generated
table in docs/strategies.md (``python scripts/strategy_table.py``). Every other
combination is *experimental*: it stays available, and ``backtest --help``, the
configuration docs and the daemon's start-up log say so. A test checks that this set
equals the table's verdicts.

Kept free of heavy imports: ``main.py`` builds the ``backtest`` parser for every command.
"""

from __future__ import annotations

BUILT_IN = ("spot_trend", "futures_regime", "smc", "confluence", "sma_cross")
ENGINES = ("spot", "futures")

# follows the generated table in docs/strategies.md (a test checks it)
VALIDATED: frozenset[tuple[str, str]] = frozenset({("futures_regime", "futures")})


def is_experimental(strategy: str, engine: str) -> bool:
    """True for a built-in strategy not validated on ``engine`` (unknown names: False)."""
    return strategy in BUILT_IN and (strategy, engine) not in VALIDATED


def validated_on(engine: str) -> list[str]:
    """The built-in strategies validated on ``engine`` (in ``BUILT_IN`` order)."""
    return [s for s in BUILT_IN if (s, engine) in VALIDATED]


def experimental_summary() -> str:
    """One line listing the experimental combinations, for ``--help`` texts."""
    parts = []
    for engine in ENGINES:
        names = [s for s in BUILT_IN if is_experimental(s, engine)]
        parts.append(f"{engine}: {', '.join(names) if names else 'none'}")
    return (
        "experimental (out-of-sample result worse than flat or drawdown beyond the limit, "
        "docs/strategies.md): " + "; ".join(parts)
    )

"""Strategy parameters chosen per engine by the walk-forward searches (issue 15, item 4).

``scripts/optimize_defaults.py`` runs one ``main.py optimize`` walk-forward search per
built-in strategy and engine on the in-sample window of the shipped data; the last
window's best parameters land here (the engine and risk fields it chose are config.py
defaults). ``create_strategy`` applies them on top of the constructor defaults, so the
same strategy may run with other parameters on spot than on futures; ``strategy_params``
in the config and ``backtest --param`` still override them. docs/strategies.md shows
the commands and the figures.
"""

from __future__ import annotations

# engine -> strategy -> parameter -> value (as ``--param`` would give it)
TUNED: dict[str, dict[str, dict[str, str]]] = {
    "spot": {
        "spot_trend": {"fast": "180", "slow": "300"},
        "futures_regime": {"fast": "90", "slow": "350"},
        "smc": {"swing_n": "4", "htf_factor": "24", "htf_swing_n": "3", "lookback": "100"},
        "confluence": {"confidence_scale": "1.75"},
    },
    "futures": {
        "futures_regime": {"fast": "100", "slow": "450"},
        "spot_trend": {"fast": "130", "slow": "400"},
        "smc": {"swing_n": "5", "htf_factor": "6", "htf_swing_n": "2", "lookback": "90"},
        "confluence": {"confidence_scale": "1.5"},
    },
    # sma_cross: no trial of either search met the drawdown cap (it sizes all-in), so it
    # keeps its constructor defaults (20 / 50)
}


def tuned_params(name: str, engine: str) -> dict[str, str]:
    """The tuned parameters of strategy ``name`` on ``engine`` (empty: constructor defaults)."""
    return dict(TUNED.get(engine, {}).get(name, {}))

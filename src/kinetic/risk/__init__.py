"""Pure risk building blocks: sizing, leverage, stops and the symbol blacklist."""

from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.leverage import RegimeLeverageCalculator
from kinetic.risk.sizing import ConfidencePositionSizer, fixed_fraction_quantity
from kinetic.risk.stops import (
    TrailingUpdate,
    atr_stop,
    fixed_pct_stop,
    stop_hit,
    take_profit,
    take_profit_hit,
    update_trailing,
)

__all__ = [
    "ConfidencePositionSizer",
    "RegimeLeverageCalculator",
    "SymbolBlacklist",
    "TrailingUpdate",
    "atr_stop",
    "fixed_fraction_quantity",
    "fixed_pct_stop",
    "stop_hit",
    "take_profit",
    "take_profit_hit",
    "update_trailing",
]

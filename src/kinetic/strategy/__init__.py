"""Pure trading strategies: closed candles in, ``Signal`` out."""

from kinetic.strategy.base import Strategy
from kinetic.strategy.futures_regime import FuturesRegimeStrategy, RegimeDetector
from kinetic.strategy.registry import available, create_strategy, register
from kinetic.strategy.spot_trend import SpotTrendStrategy

__all__ = [
    "FuturesRegimeStrategy",
    "RegimeDetector",
    "SpotTrendStrategy",
    "Strategy",
    "available",
    "create_strategy",
    "register",
]

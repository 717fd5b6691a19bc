"""Pure trading strategies: closed candles in, ``Signal`` out."""

from kinetic.strategy.base import Strategy
from kinetic.strategy.confluence import ConfluenceStrategy
from kinetic.strategy.futures_regime import FuturesRegimeStrategy, RegimeDetector
from kinetic.strategy.registry import available, create_strategy, register
from kinetic.strategy.scoring import Evidence, Score, SignalScorer
from kinetic.strategy.smc import SMCStrategy
from kinetic.strategy.spot_trend import SpotTrendStrategy

__all__ = [
    "ConfluenceStrategy",
    "Evidence",
    "FuturesRegimeStrategy",
    "RegimeDetector",
    "SMCStrategy",
    "Score",
    "SignalScorer",
    "SpotTrendStrategy",
    "Strategy",
    "available",
    "create_strategy",
    "register",
]

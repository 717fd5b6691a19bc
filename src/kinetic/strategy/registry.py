"""Strategies registered by name and built from ``UnifiedConfig``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kinetic.strategy.base import Strategy
from kinetic.strategy.confluence import ConfluenceStrategy
from kinetic.strategy.futures_regime import FuturesRegimeStrategy
from kinetic.strategy.smc import SMCStrategy
from kinetic.strategy.spot_trend import SpotTrendStrategy
from kinetic.strategy.tuned import tuned_params

if TYPE_CHECKING:  # the strategy layer only reads attributes; keep it import-light
    from config import UnifiedConfig

Factory = Callable[["UnifiedConfig", str], Strategy]
ENGINES = ("spot", "futures")

_REGISTRY: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    """Register a factory ``(config, engine) -> Strategy`` under ``name``."""

    def deco(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"strategy {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return deco


def available() -> list[str]:
    """Return the registered strategy names, sorted."""
    return sorted(_REGISTRY)


def create_strategy(name: str, config: UnifiedConfig, engine: str) -> Strategy:
    """Build strategy ``name`` for ``engine`` ("spot" or "futures") from ``config``.

    The engine's tuned parameters (``kinetic.strategy.tuned``) replace the constructor
    defaults.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; available: {', '.join(ENGINES)}")
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ValueError(f"unknown strategy {name!r}; available: {', '.join(available())}")
    strategy = factory(config, engine)
    tuned = tuned_params(name, engine)
    configure = getattr(strategy, "with_params", None)
    if tuned and configure is not None:  # the per-engine defaults of issue 15
        strategy = configure(tuned)
    return strategy


def _min_confidence(config: UnifiedConfig, engine: str) -> int:
    return config.spot_min_confidence if engine == "spot" else config.futures_min_confidence


@register("spot_trend")
def _spot_trend(config: UnifiedConfig, engine: str) -> Strategy:
    return SpotTrendStrategy(min_confidence=_min_confidence(config, engine))


@register("futures_regime")
def _futures_regime(config: UnifiedConfig, engine: str) -> Strategy:
    return FuturesRegimeStrategy(
        min_confidence=_min_confidence(config, engine),
        adx_trending=config.futures_regime_adx_trending,
        adx_sideways=config.futures_regime_adx_sideways,
    )


@register("smc")
def _smc(config: UnifiedConfig, engine: str) -> Strategy:
    return SMCStrategy(
        min_confidence=_min_confidence(config, engine),
        adx_trending=config.futures_regime_adx_trending,
        adx_sideways=config.futures_regime_adx_sideways,
    )


@register("confluence")
def _confluence(config: UnifiedConfig, engine: str) -> Strategy:
    return ConfluenceStrategy(
        min_confidence=_min_confidence(config, engine),
        adx_trending=config.futures_regime_adx_trending,
        adx_sideways=config.futures_regime_adx_sideways,
    )


from kinetic.strategy import sma_cross as _sma_cross  # noqa: E402, F401  (registers it)

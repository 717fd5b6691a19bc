"""SpotTrendStrategy, FuturesRegimeStrategy, RegimeDetector and the registry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import UnifiedConfig
from kinetic.domain import Candle, Direction, Regime
from kinetic.strategy import (
    ConfluenceStrategy,
    FuturesRegimeStrategy,
    RegimeDetector,
    SMCStrategy,
    SpotTrendStrategy,
    Strategy,
    available,
    create_strategy,
)
from kinetic.strategy.indicators import adx, atr

# the series here are written for EMA 20 / 50 (the defaults before issue 15 chose 100 / 400)
EMA_20_50 = {"fast": 20, "slow": 50}

BAR_MS = 300_000


def make_candles(
    closes: np.ndarray, symbol: str = "BTCUSDT", wick: float = 0.002, seed: int = 0, t0: int = 0
) -> list[Candle]:
    """Build closed candles whose open is the previous close, with small random wicks."""
    rng = np.random.default_rng(seed)
    out: list[Candle] = []
    prev = float(closes[0])
    for i, raw in enumerate(closes):
        close = float(raw)
        high = max(prev, close) * (1 + wick * rng.random())
        low = min(prev, close) * (1 - wick * rng.random())
        t = t0 + i * BAR_MS
        out.append(Candle(symbol, t, t + BAR_MS - 1, prev, high, low, close, 1.0))
        prev = close
    return out


def trend(drift: float, n: int = 200, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.cumprod(1.0 + drift + rng.normal(0.0, 0.002, n))


def flat_noise(n: int = 300, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 + rng.normal(0.0, 0.3, n)


def run(strategy: Strategy, candles: list[Candle]) -> list:
    return [strategy.on_candle(c) for c in candles]


def test_spot_steady_uptrend_when_warm_then_long_above_min_confidence() -> None:
    strategy = SpotTrendStrategy(min_confidence=60, **EMA_20_50)
    signals = run(strategy, make_candles(trend(0.004)))
    last = signals[-1]
    assert last.direction is Direction.LONG
    assert last.confidence >= 60
    assert last.atr > 0
    assert set(last.components) == {
        "ema_alignment", "ema_spread", "above_slow", "rsi_band", "adx_strength", "macd_hist"
    }  # fmt: skip
    assert sum(last.components.values()) == pytest.approx(last.confidence, abs=0.5)
    assert "uptrend" in last.reason


def test_spot_downtrend_then_short_means_exit() -> None:
    signals = run(SpotTrendStrategy(min_confidence=60, **EMA_20_50), make_candles(trend(-0.004)))
    assert signals[-1].direction is Direction.SHORT
    assert "trend broken" in signals[-1].reason


def test_spot_crossing_below_is_reported_on_the_cross() -> None:
    closes = np.concatenate([trend(0.003, 120), trend(0.003, 120)[-1] * trend(-0.006, 80) / 100])
    signals = run(SpotTrendStrategy(min_confidence=60, **EMA_20_50), make_candles(closes))
    crossed = [s for s in signals if "crossed below" in s.reason]
    assert crossed, "the fast EMA crossing below the slow EMA must be reported once"
    assert all(s.direction is Direction.SHORT for s in crossed)


@pytest.mark.parametrize("kind", ["spot", "futures"])
def test_warmup_candles_then_flat_with_zero_confidence(kind: str) -> None:
    strategy: Strategy = (
        SpotTrendStrategy(60, **EMA_20_50)
        if kind == "spot"
        else FuturesRegimeStrategy(50, **EMA_20_50)
    )
    signals = run(strategy, make_candles(trend(0.004, strategy.warmup)))
    assert all(s.direction is Direction.FLAT and s.confidence == 0 for s in signals[:-1])
    assert "warming up" in signals[0].reason
    assert signals[-1].confidence > 0  # the warmup-th candle already produces a decision


def test_futures_uptrend_then_long_trending() -> None:
    strategy = FuturesRegimeStrategy(min_confidence=50, **EMA_20_50)
    last = run(strategy, make_candles(trend(0.004)))[-1]
    assert last.direction is Direction.LONG
    assert last.regime is Regime.TRENDING
    assert last.confidence >= 50


def test_futures_downtrend_then_short_with_components() -> None:
    strategy = FuturesRegimeStrategy(min_confidence=50, **EMA_20_50)
    last = run(strategy, make_candles(trend(-0.004)))[-1]
    assert last.direction is Direction.SHORT
    assert last.regime is Regime.TRENDING
    assert last.confidence >= 50
    assert {"alignment", "adx_strength", "macd_agreement", "di_spread", "adx"} <= set(
        last.components
    )
    assert last.atr > 0


def test_futures_flat_noisy_series_then_sideways_regime_detected() -> None:
    signals = run(FuturesRegimeStrategy(min_confidence=50, **EMA_20_50), make_candles(flat_noise()))
    regimes = [s.regime for s in signals[100:]]
    assert regimes.count(Regime.SIDEWAYS) > len(regimes) // 2
    assert Regime.TRENDING not in regimes


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("jump", "side"), [(97.0, Direction.LONG), (103.0, Direction.SHORT)])
def test_futures_sideways_band_extreme_then_mean_reversion(
    seed: int, jump: float, side: Direction
) -> None:
    closes = np.concatenate([flat_noise(200, seed), [jump]])
    signals = run(FuturesRegimeStrategy(min_confidence=30, **EMA_20_50), make_candles(closes))
    last = signals[-1]
    assert last.regime is Regime.SIDEWAYS
    assert last.direction is side
    assert 30 <= last.confidence <= 60  # mean reversion is capped below trend confidence
    assert last.components["band"] == 30.0
    assert "mean reversion" in last.reason


def test_strategy_values_equal_vectorised_indicators() -> None:
    candles = make_candles(trend(0.001, 300, seed=5), wick=0.01, seed=5)
    last = run(FuturesRegimeStrategy(min_confidence=50, **EMA_20_50), candles)[-1]
    high = np.array([c.high for c in candles])
    low = np.array([c.low for c in candles])
    close = np.array([c.close for c in candles])
    assert last.atr == pytest.approx(atr(high, low, close, 14)[-1], rel=1e-9)
    assert last.components["adx"] == pytest.approx(adx(high, low, close, 14).adx[-1], rel=1e-9)


def test_symbols_are_independent_and_reset_forgets_state() -> None:
    strategy = SpotTrendStrategy(min_confidence=60, **EMA_20_50)
    run(strategy, make_candles(trend(0.004), symbol="AAA"))
    first_b = strategy.on_candle(make_candles(trend(0.004, 1), symbol="BBB")[0])
    assert first_b.direction is Direction.FLAT
    strategy.reset("AAA")
    again = strategy.on_candle(make_candles(trend(0.004, 1), symbol="AAA", t0=10**12)[0])
    assert "warming up (1/" in again.reason


def test_out_of_order_candle_rejected() -> None:
    strategy = SpotTrendStrategy(min_confidence=60, **EMA_20_50)
    candles = make_candles(trend(0.004, 3))
    strategy.on_candle(candles[1])
    with pytest.raises(ValueError, match="not after"):
        strategy.on_candle(candles[0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    future=st.lists(
        st.tuples(st.floats(0.5, 2.0), st.floats(0.0, 0.05), st.floats(0.0, 0.05)),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 5),
)
def test_no_look_ahead_future_candles_never_change_past_signals(
    future: list[tuple[float, float, float]], seed: int
) -> None:
    past = make_candles(flat_noise(90, seed) * trend(0.001, 90, seed) / 100, seed=seed)
    last = past[-1]
    extra = []
    for i, (ratio, up, down) in enumerate(future, start=1):
        close = last.close * ratio
        t = last.open_time_ms + i * BAR_MS
        extra.append(
            Candle(last.symbol, t, t + BAR_MS - 1, close, close * (1 + up), close * (1 - down),
                   close, 1.0)
        )  # fmt: skip
    config = UnifiedConfig(spot_min_confidence=0, futures_min_confidence=0)
    for name in available():  # every registered strategy, both engines
        for engine in ("spot", "futures"):
            alone = run(create_strategy(name, config, engine), past)
            extended = run(create_strategy(name, config, engine), past + extra)
            assert extended[: len(past)] == alone, f"{name}/{engine} looked ahead"


def test_regime_detector_thresholds() -> None:
    detector = RegimeDetector(adx_trending=25.0, adx_sideways=15.0)
    assert detector.detect(25.0) is Regime.TRENDING
    assert detector.detect(40.0) is Regime.TRENDING
    assert detector.detect(14.99) is Regime.SIDEWAYS
    assert detector.detect(15.0) is Regime.TRANSITIONAL
    assert detector.detect(24.9) is Regime.TRANSITIONAL
    with pytest.raises(ValueError):
        RegimeDetector(adx_trending=15.0, adx_sideways=15.0)


def test_registry_builds_from_config() -> None:
    config = UnifiedConfig(
        spot_min_confidence=70, futures_min_confidence=55,
        futures_regime_adx_trending=30.0, futures_regime_adx_sideways=12.0,
    )  # fmt: skip
    spot = create_strategy("spot_trend", config, "spot")
    assert isinstance(spot, SpotTrendStrategy)
    assert spot.min_confidence == 70
    fut = create_strategy("futures_regime", config, "futures")
    assert isinstance(fut, FuturesRegimeStrategy)
    assert fut.min_confidence == 55
    assert (fut.detector.adx_trending, fut.detector.adx_sideways) == (30.0, 12.0)
    assert isinstance(fut, Strategy)


def test_registry_unknown_name_lists_available() -> None:
    with pytest.raises(ValueError, match=r"available: confluence, futures_regime, .*smc"):
        create_strategy("nope", UnifiedConfig(), "spot")
    with pytest.raises(ValueError, match="unknown engine"):
        create_strategy("spot_trend", UnifiedConfig(), "margin")
    assert {"spot_trend", "futures_regime", "smc", "confluence"} <= set(available())


def test_registry_builds_smc_and_confluence_as_futures_strategies() -> None:
    config = UnifiedConfig(futures_min_confidence=65, futures_strategy="smc")
    smc = create_strategy(config.futures_strategy, config, "futures")
    assert isinstance(smc, SMCStrategy)
    assert smc.min_confidence == 65
    conf = create_strategy("confluence", config, "futures")
    assert isinstance(conf, ConfluenceStrategy)
    assert conf.min_confidence == 65
    assert isinstance(smc, Strategy)
    assert isinstance(conf, Strategy)
